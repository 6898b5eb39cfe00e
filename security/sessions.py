"""Turning credentials into a Principal (认证): web sessions (cookie + CSRF token) and API keys.

The checks are one SQL call each (auth_key, auth_session in 0606_auth_functions.sql); the
middleware runs SESSION_SQL (here) and identity.KEY_SQL on the async pool and builds the principal with the
`*_principal` helpers here. The session
cookie holds a random token whose sha256 is the row's key; sessions end after SESSION_IDLE without
use or SESSION_MAX after login, whichever comes first.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from civicgrid.security import identity
from civicgrid.security.principal import Principal

COOKIE = "civicgrid_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)


def _principal(row: dict, roles: list[str], via: str, **extra) -> Principal:
    return Principal(user=row["username"], roles=frozenset(roles), user_id=row["id"],
                     department_code=row["department_code"], officer_id=row["officer_id"],
                     officer_code=row.get("officer_code"), via=via, **extra)


def _row(conn, user: dict) -> dict:
    code = None
    if user["officer_id"] is not None:
        code = conn.execute("SELECT code FROM officer WHERE id = %s", [user["officer_id"]]).fetchone()["code"]
    return {"id": user["id"], "username": user["username"], "department_code": user["department_code"],
            "officer_id": user["officer_id"], "officer_code": code}


def login(conn, username: str, password: str, client_addr: str | None) -> tuple[str, Principal] | None:
    """Check the password (lock-out and audit live in identity.verify_password) and open a session.
    Returns (cookie token, principal) or None. The caller commits either way."""
    user = identity.verify_password(conn, username, password, client_addr=client_addr)
    if user is None:
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute("INSERT INTO app_session (token_hash, user_id, csrf_token, expires_at, client_addr) "
                 "VALUES (%s, %s, %s, now() + %s, %s)", [identity.secret_hash(token), user["id"], csrf, SESSION_MAX, client_addr])
    conn.execute("DELETE FROM app_session WHERE expires_at < now() - interval '1 day'")  # keep the table small
    row = _row(conn, user)
    return token, _principal(row, user["roles"], "session", csrf_token=csrf)


SESSION_SQL = "SELECT * FROM auth_session(%s, %s)"


def session_args(token: str) -> list | None:
    """The arguments of SESSION_SQL for a cookie token, or None when it cannot be one."""
    if not token or len(token) > 100:
        return None
    return [identity.secret_hash(token), SESSION_IDLE]


def session_principal(row: dict | None) -> Principal | None:
    if row is None:
        return None
    return _principal({**row, "id": row["user_id"]}, row["roles"], "session", csrf_token=row["csrf_token"])


def basic_principal(conn, username: str, password: str, client_addr: str | None) -> Principal | None:
    """HTTP Basic with a user name and password (desktop QGIS 3.22 offers Basic, not Bearer): the same
    check, lock-out and audit as a web login (identity.verify_password), no session row. The principal
    only reads (scope `read`): a browser that once sent Basic credentials sends them again by itself,
    so a write by them could be forged by another site (no CSRF token); editors use an API key."""
    user = identity.verify_password(conn, username, password, client_addr=client_addr, via="basic")
    if user is None:
        return None
    return _principal(_row(conn, user), user["roles"], "basic", scopes=frozenset({"read"}))


def logout(conn, token: str) -> bool:
    return conn.execute("DELETE FROM app_session WHERE token_hash = %s", [identity.secret_hash(token or "")]).rowcount > 0


def key_principal(row: dict | None, prefix: str) -> Principal | None:
    if row is None:
        return None
    limited = row.get("collections")
    return _principal({**row, "id": row["user_id"]}, row["roles"], "key", scopes=frozenset(row["scopes"]), key=prefix,
                      collections=frozenset(limited) if limited is not None else None)
