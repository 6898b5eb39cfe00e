"""Security: who may see and do what (deny by default).

- `access.yml` the rules, as data: role × route × method, per collection (read/write) and per
  process; deny by default. `policy.py` loads and validates them.
- `access.py` the one access layer, an ASGI middleware around the whole app (pygeoapi included):
  authentication, rule check, CSRF, body limits, anonymous rate limits, audit of every write,
  listings trimmed to what the caller may read.
- `principal.py` the request's Principal, read by every part (`current_principal()`).
- `sessions.py` web sessions (cookie + CSRF token) and API keys → Principal.
- `identity.py` users (argon2, lock-out), roles, API keys, `audit()`; `cli.py` `civicgrid user|key`.
- `api.py` `/api/auth/login|logout|me` and `/api/audit` (admins).
- `rows.py` hands a transaction to PostgreSQL's row-level policies (db/migrations/0610_row_security.sql).
- `testing.py` users with API keys per role, for tests and benchmarks.
Tables: db/migrations/0600_security.sql (users, keys, audit), 0605_sessions.sql, 0610_row_security.sql.
"""
