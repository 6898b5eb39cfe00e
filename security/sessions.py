"""Turning credentials into a Principal (认证): web sessions (cookie + CSRF token) and API keys.

Sync functions on a psycopg connection; the middleware runs them in a worker thread. The session
cookie holds a random token whose sha256 is the row's key; sessions end after SESSION_IDLE without
use or SESSION_MAX after login, whichever comes first.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from civicgrid.security import identity
from civicgrid.security.principal import Principal

COOKIE = "civicgrid_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)       # last_seen_at is written at most this often per session
KEY_USE_AUDIT_EVERY = timedelta(minutes=10)  # a key's reads are audited at most this often


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
                 "VALUES (%s, %s, %s, now() + %s, %s)", [_hash(token), user["id"], csrf, SESSION_MAX, client_addr])
    conn.execute("DELETE FROM app_session WHERE expires_at < now() - interval '1 day'")  # keep the table small
    row = _row(conn, user)
    return token, _principal(row, user["roles"], "session", csrf_token=csrf)


def from_session(conn, token: str) -> Principal | None:
    """The principal of a live session, or None (unknown, expired, idle too long, user disabled)."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(
        "SELECT s.token_hash, s.csrf_token, s.last_seen_at < now() - %s AS stale, u.id, u.username, "
        "       u.department_code, u.officer_id, (SELECT code FROM officer WHERE id = u.officer_id) AS officer_code, "
        "       ARRAY(SELECT role_code FROM app_user_role r WHERE r.user_id = u.id ORDER BY 1) AS roles "
        "FROM app_session s JOIN app_user u ON u.id = s.user_id "
        "WHERE s.token_hash = %s AND s.expires_at > now() AND s.last_seen_at > now() - %s AND NOT u.disabled",
        [TOUCH_EVERY, _hash(token), SESSION_IDLE]).fetchone()
    if row is None:
        return None
    if row["stale"]:
        conn.execute("UPDATE app_session SET last_seen_at = now() WHERE token_hash = %s", [row["token_hash"]])
    return _principal(row, row["roles"], "session", csrf_token=row["csrf_token"])


def logout(conn, token: str) -> bool:
    return conn.execute("DELETE FROM app_session WHERE token_hash = %s", [_hash(token or "")]).rowcount > 0


def end_sessions_of(conn, user_id: int) -> int:
    return conn.execute("DELETE FROM app_session WHERE user_id = %s", [user_id]).rowcount


def from_key(conn, token: str, client_addr: str | None) -> Principal | None:
    """The principal behind an API key, or None. Key use is audited: every write by the middleware,
    reads here at most once per KEY_USE_AUDIT_EVERY per key (a feed polled every few seconds must
    not drown the log)."""
    before = None
    m = identity.KEY_RE.match(token.strip()) if isinstance(token, str) else None
    if m:
        r = conn.execute("SELECT last_used_at IS NULL OR last_used_at < now() - %s AS due FROM api_key WHERE prefix = %s",
                         [KEY_USE_AUDIT_EVERY, m.group(1)]).fetchone()
        before = r and r["due"]
    user = identity.authenticate_key(conn, token)
    if user is None:
        return None
    if before:
        identity.audit(conn, user["username"], ",".join(user["roles"]), "key.use", f"key:{user['key']}", client_addr)
    return _principal(_row(conn, user), user["roles"], "key", scopes=frozenset(user["scopes"]), key=user["key"])
