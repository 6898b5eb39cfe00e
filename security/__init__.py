"""Security (issue 5): identities, roles, API keys and the audit log.

- `identity.py` users (argon2 password hashes, lock-out after failed logins), their roles, API keys
  (stored as sha256 of a long random secret, scoped, expiring, revocable) and `audit()`.
- `cli.py` the `civicgrid user …` and `civicgrid key …` command groups.
- The tables live in db/migrations/0600_security.sql.

Not here yet: the access layer in front of routes, row-level security and the role × route matrix.
"""
