"""Users (用户), their roles, API keys and the audit log.

Every function takes an open psycopg connection (dict rows) and runs inside the caller's
transaction, so a change and its audit row commit or roll back together. Changes are attributed
to `actor` / `actor_role` (the CLI passes `cli` / `admin`).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.types.json import Jsonb

from civicgrid.errors import Conflict, InvalidInput, NotFound

# ---------------------------------------------------------------- policy (data, not code paths)
MAX_FAILED_LOGINS = 5                   # failures in a row before the account locks
LOCKOUT = timedelta(minutes=15)         # how long it stays locked
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256               # argon2 takes any length; this bounds the work per attempt
GENERATED_PASSWORD_BYTES = 12           # token_urlsafe → 16 characters
KEY_PREFIX_BYTES = 4                    # 8 hex characters, shown in lists
KEY_SECRET_BYTES = 32                   # 256 bits: why a fast sha256 is enough (see 0600_security.sql)
KEY_MAX_DAYS = 3650
KEY_TOKEN_PREFIX = "cg"

USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,40}$")
# what a key may do on top of its user's roles (security/policy.py): read = GET/HEAD/OPTIONS
KEY_SCOPES = ("read", "write")
KEY_RE = re.compile(r"^cg_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified against when the user does not exist, so an unknown name costs as much as a wrong password
_DUMMY_HASH = _hasher.hash("civicgrid-no-such-user")


# ---------------------------------------------------------------- audit

AUDIT_SQL = ("INSERT INTO audit_log (actor, actor_role, action, target, client_addr, detail) "
             "VALUES (%s, %s, %s, %s, %s, %s)")


def audit_args(actor: str, role: str | None, action: str, target: str | None = None,
               client_addr: str | None = None, detail: dict | None = None) -> list:
    return [actor, role, action, target, client_addr, Jsonb(detail or {})]


def audit(conn, *args, **kwargs) -> None:
    """Append one row to the audit log (审计日志): actor, role, action, target, client_addr, detail.
    Never put secrets or passwords in `detail`."""
    conn.execute(AUDIT_SQL, audit_args(*args, **kwargs))


# ---------------------------------------------------------------- lookups and validation

def _check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise InvalidInput(f"username {username!r} must be 3–40 characters of a-z, 0-9, '_', '.', '-'",
                           field="username")
    return username


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} characters",
                           field="password")


def _user_row(conn, username: str) -> dict:
    row = conn.execute("SELECT * FROM app_user WHERE username = %s", [username]).fetchone()
    if row is None:
        raise NotFound(f"no user {username!r}", field="username")
    return row


def _check_roles(conn, roles) -> list[str]:
    roles = list(dict.fromkeys(roles))
    known = {r["code"]: r["assignable"] for r in conn.execute("SELECT code, assignable FROM app_role")}
    assignable = sorted(c for c, a in known.items() if a)
    for role in roles:
        if role not in known:
            raise InvalidInput(f"unknown role {role!r}; one of {', '.join(assignable)}", field="role")
        if not known[role]:
            raise InvalidInput(f"role {role!r} cannot be given to a user; one of {', '.join(assignable)}",
                               field="role")
    return roles


def _department(conn, code: str | None) -> str | None:
    if code is None:
        return None
    if conn.execute("SELECT 1 FROM department WHERE code = %s", [code]).fetchone() is None:
        raise InvalidInput(f"no department with code {code!r}", field="department")
    return code


def _officer_id(conn, code: str | None) -> int | None:
    if code is None:
        return None
    row = conn.execute("SELECT id FROM officer WHERE code = %s", [code]).fetchone()
    if row is None:
        raise InvalidInput(f"no officer with code {code!r}", field="officer")
    return row["id"]


def _binding_error(exc: psycopg.errors.CheckViolation) -> InvalidInput:
    """The database's binding trigger speaks for itself; name the field it is about."""
    constraint = exc.diag.constraint_name or ""
    field = {"app_user_department_handler_needs_department": "department",
             "app_user_grid_officer_needs_officer": "officer",
             "app_user_role_assignable": "role"}.get(constraint)
    return InvalidInput(exc.diag.message_primary or str(exc), field=field)


def _roles_of(conn, user_id: int) -> list[str]:
    return [r["role_code"] for r in conn.execute(
        "SELECT role_code FROM app_user_role WHERE user_id = %s ORDER BY role_code", [user_id])]


# ---------------------------------------------------------------- users

def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def add_user(conn, username: str, roles, *, password: str | None = None, display_name: str = "",
             department: str | None = None, officer: str | None = None,
             actor: str = "cli", actor_role: str | None = "admin", client_addr: str | None = None) -> dict:
    """Create a user with roles. `password=None` makes a key-only user (no password login)."""
    _check_username(username)
    roles = _check_roles(conn, roles)
    if not roles:
        raise InvalidInput("give the user at least one role", field="role")
    if password is not None:
        _check_password(password)
    if len(display_name) > 100:
        raise InvalidInput("display name is longer than 100 characters", field="display_name")
    department = _department(conn, department)
    officer_id = _officer_id(conn, officer)
    if conn.execute("SELECT 1 FROM app_user WHERE username = %s", [username]).fetchone():
        raise Conflict(f"user {username!r} already exists", field="username")
    try:
        with conn.transaction():
            user = conn.execute(
                "INSERT INTO app_user (username, display_name, password_hash, department_code, officer_id) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id, username",
                [username, display_name, _hasher.hash(password) if password is not None else None,
                 department, officer_id]).fetchone()
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO app_user_role (user_id, role_code) VALUES (%s, %s)",
                                [(user["id"], role) for role in roles])
    except psycopg.errors.UniqueViolation as exc:  # a concurrent add of the same name
        raise Conflict(f"user {username!r} already exists", field="username") from exc
    except psycopg.errors.CheckViolation as exc:
        raise _binding_error(exc) from exc
    audit(conn, actor, actor_role, "user.add", f"user:{username}", client_addr,
          {"roles": roles, "department": department, "officer": officer, "password_login": password is not None})
    return {"id": user["id"], "username": username, "roles": roles}


def set_roles(conn, username: str, *, add=(), remove=(), actor: str = "cli", actor_role: str | None = "admin",
              client_addr: str | None = None) -> list[str]:
    """Add and remove roles; returns the user's roles afterwards."""
    user = _user_row(conn, username)
    add = _check_roles(conn, add)
    remove = list(dict.fromkeys(remove))
    if not add and not remove:
        raise InvalidInput("give --add or --remove", field="role")
    if set(add) & set(remove):
        raise InvalidInput(f"role(s) {', '.join(sorted(set(add) & set(remove)))} both added and removed", field="role")
    try:
        with conn.transaction():
            conn.execute("DELETE FROM app_user_role WHERE user_id = %s AND role_code = ANY(%s)", [user["id"], remove])
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO app_user_role (user_id, role_code) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                [(user["id"], role) for role in add])
    except psycopg.errors.CheckViolation as exc:
        raise _binding_error(exc) from exc
    roles = _roles_of(conn, user["id"])
    audit(conn, actor, actor_role, "user.roles", f"user:{username}", client_addr,
          {"added": add, "removed": remove, "roles": roles})
    return roles


def disable_user(conn, username: str, *, actor: str = "cli", actor_role: str | None = "admin",
                 client_addr: str | None = None) -> bool:
    """Disable a user: no password login, and his keys stop working. False when already disabled."""
    user = _user_row(conn, username)
    if user["disabled"]:
        return False
    conn.execute("UPDATE app_user SET disabled = true WHERE id = %s", [user["id"]])
    audit(conn, actor, actor_role, "user.disable", f"user:{username}", client_addr)
    return True


def enable_user(conn, username: str, *, actor: str = "cli", actor_role: str | None = "admin",
                client_addr: str | None = None) -> bool:
    """Enable a disabled user again (启用): password login and his unexpired, unrevoked keys work again;
    a lock-out is lifted too. False when he was not disabled."""
    user = _user_row(conn, username)
    if not user["disabled"]:
        return False
    conn.execute("UPDATE app_user SET disabled = false, failed_logins = 0, locked_until = NULL WHERE id = %s",
                 [user["id"]])
    audit(conn, actor, actor_role, "user.enable", f"user:{username}", client_addr)
    return True


def list_users(conn) -> list[dict]:
    return conn.execute(
        "SELECT u.id, u.username, u.display_name, u.disabled, u.department_code, o.code AS officer_code, "
        "       u.created_at, u.failed_logins, u.locked_until, u.password_hash IS NOT NULL AS password_login, "
        "       coalesce(array_agg(r.role_code ORDER BY r.role_code) FILTER (WHERE r.role_code IS NOT NULL), "
        "                '{}') AS roles "
        "FROM app_user u LEFT JOIN officer o ON o.id = u.officer_id "
        "LEFT JOIN app_user_role r ON r.user_id = u.id "
        "GROUP BY u.id, o.code ORDER BY u.username").fetchall()


def verify_password(conn, username: str, password: str, *, client_addr: str | None = None,
                    via: str | None = None) -> dict | None:
    """Check a login (登录). Returns {id, username, roles, department_code, officer_id} or None.

    Failures count up; the MAX_FAILED_LOGINS-th in a row locks the account for LOCKOUT, during
    which even the right password is refused. Success resets the count and upgrades an old hash.
    Every attempt is audited (`via` noted in the detail, e.g. 'basic' for HTTP Basic). The caller
    must commit even when None comes back (the counter).
    """
    tag = {"via": via} if via else {}
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return None
    user = conn.execute("SELECT * FROM app_user WHERE username = %s FOR UPDATE", [username]).fetchone()
    target = f"user:{username}"[:80]
    if user is None or user["password_hash"] is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        audit(conn, username[:80], None, "login.failure", target, client_addr, {"reason": "unknown user", **tag})
        return None
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    if user["disabled"]:
        audit(conn, username, None, "login.failure", target, client_addr, {"reason": "disabled", **tag})
        return None
    if user["locked_until"] and user["locked_until"] > now:
        audit(conn, username, None, "login.failure", target, client_addr,
              {"reason": "locked", "locked_until": user["locked_until"].isoformat(), **tag})
        return None
    try:
        _hasher.verify(user["password_hash"], password)
    except (VerificationError, InvalidHashError):
        failed = user["failed_logins"] + 1
        locked_until = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
        conn.execute("UPDATE app_user SET failed_logins = %s, locked_until = %s WHERE id = %s",
                     [0 if locked_until else failed, locked_until, user["id"]])
        audit(conn, username, None, "login.failure", target, client_addr,
              {"reason": "wrong password", "failed_logins": failed, **tag,
               **({"locked_until": locked_until.isoformat()} if locked_until else {})})
        return None
    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(user["password_hash"]) else user["password_hash"]
    conn.execute("UPDATE app_user SET failed_logins = 0, locked_until = NULL, password_hash = %s WHERE id = %s",
                 [new_hash, user["id"]])
    roles = _roles_of(conn, user["id"])
    audit(conn, username, roles[0] if len(roles) == 1 else ",".join(roles), "login.success", target, client_addr, tag)
    return {"id": user["id"], "username": username, "roles": roles,
            "department_code": user["department_code"], "officer_id": user["officer_id"]}


def set_password(conn, username: str, password: str, *, actor: str = "cli", actor_role: str | None = "admin",
                 client_addr: str | None = None) -> None:
    """Set a new password, lift any lock-out and end the user's open web sessions."""
    _check_password(password)
    user = _user_row(conn, username)
    conn.execute("UPDATE app_user SET password_hash = %s, failed_logins = 0, locked_until = NULL WHERE id = %s",
                 [_hasher.hash(password), user["id"]])
    conn.execute("DELETE FROM app_session WHERE user_id = %s", [user["id"]])
    audit(conn, actor, actor_role, "user.password", f"user:{username}", client_addr)


# ---------------------------------------------------------------- API keys

def secret_hash(secret: str) -> str:
    """sha256 hex of a long random secret (an API key's, a session cookie's): what is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_collections(collections) -> list[str] | None:
    """None (every collection) or the ids of collections under `collections` in security/access.yml."""
    if collections is None:
        return None
    from civicgrid.security import policy

    known = policy.load().collections
    wanted = list(dict.fromkeys(c.strip() for c in collections if c.strip()))
    if not wanted:
        raise InvalidInput("give at least one collection, or none at all for every collection", field="collections")
    for cid in wanted:
        if cid not in known:
            raise InvalidInput(f"collection {cid!r} is not one of {', '.join(known)}", field="collections")
    return wanted


def create_key(conn, username: str, scopes, days: int, *, collections=None, actor: str = "cli",
               actor_role: str | None = "admin", client_addr: str | None = None) -> dict:
    """A new API key. The returned `token` (cg_<prefix>_<secret>) is shown once and never stored.
    `collections` limits it to those OGC API collections (None: every one its user may use)."""
    user = _user_row(conn, username)
    collections = _check_collections(collections)
    scopes = list(dict.fromkeys(scopes))
    if not scopes:
        raise InvalidInput("give at least one scope", field="scope")
    for scope in scopes:
        if scope not in KEY_SCOPES:
            raise InvalidInput(f"scope {scope!r} is not one of {', '.join(KEY_SCOPES)}", field="scope")
    if not isinstance(days, int) or not 1 <= days <= KEY_MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {KEY_MAX_DAYS}", field="days")
    if user["disabled"]:
        raise InvalidInput(f"user {username!r} is disabled", field="username")
    for _ in range(5):  # 2^32 prefixes: a clash is rare, and then we simply draw again
        prefix = secrets.token_hex(KEY_PREFIX_BYTES)
        secret = secrets.token_urlsafe(KEY_SECRET_BYTES)
        try:
            with conn.transaction():
                row = conn.execute(
                    "INSERT INTO api_key (prefix, key_hash, user_id, scopes, collections, expires_at) "
                    "VALUES (%s, %s, %s, %s, %s, now() + make_interval(days => %s)) RETURNING id, expires_at",
                    [prefix, secret_hash(secret), user["id"], scopes, collections, days]).fetchone()
            break
        except psycopg.errors.UniqueViolation:
            continue
    else:
        raise Conflict("could not draw a free key prefix; try again")
    audit(conn, actor, actor_role, "key.create", f"key:{prefix}", client_addr,
          {"user": username, "scopes": scopes, "collections": collections, "expires_at": row["expires_at"].isoformat()})
    return {"prefix": prefix, "token": f"{KEY_TOKEN_PREFIX}_{prefix}_{secret}", "user": username,
            "scopes": scopes, "collections": collections, "expires_at": row["expires_at"]}


def revoke_key(conn, prefix: str, *, actor: str = "cli", actor_role: str | None = "admin",
               client_addr: str | None = None) -> bool:
    """Revoke a key by its prefix. False when it was already revoked."""
    row = conn.execute("SELECT id, revoked_at FROM api_key WHERE prefix = %s", [prefix]).fetchone()
    if row is None:
        raise NotFound(f"no API key with prefix {prefix!r}", field="prefix")
    if row["revoked_at"] is not None:
        return False
    conn.execute("UPDATE api_key SET revoked_at = now() WHERE id = %s", [row["id"]])
    audit(conn, actor, actor_role, "key.revoke", f"key:{prefix}", client_addr)
    return True


def list_keys(conn, username: str | None = None) -> list[dict]:
    return conn.execute(
        "SELECT k.prefix, u.username, k.scopes, k.collections, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, "
        "       CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' WHEN k.expires_at <= now() THEN 'expired' "
        "            WHEN u.disabled THEN 'user disabled' ELSE 'active' END AS status "
        "FROM api_key k JOIN app_user u ON u.id = k.user_id "
        "WHERE %(u)s::text IS NULL OR u.username = %(u)s ORDER BY u.username, k.created_at",
        {"u": username}).fetchall()


# the checks live in SQL (auth_key, 0606_auth_functions.sql); the access layer runs it on every request
KEY_SQL = "SELECT * FROM auth_key(%s, %s)"


def key_args(token: str) -> list | None:
    """KEY_SQL's arguments (prefix, sha256 of the secret) for a bearer token; None when it cannot be a key."""
    m = KEY_RE.match(token.strip()) if isinstance(token, str) else None
    return [m.group(1), secret_hash(m.group(2))] if m else None


def authenticate_key(conn, token: str) -> dict | None:
    """The user behind a bearer token: {id, username, roles, scopes, department_code, officer_id, key}
    or None for anything malformed, unknown, forged, expired, revoked or of a disabled user."""
    args = key_args(token)
    row = conn.execute(KEY_SQL, args).fetchone() if args else None
    if row is None:
        return None
    return {"id": row["user_id"], "username": row["username"], "roles": list(row["roles"]),
            "scopes": list(row["scopes"]), "collections": row["collections"], "department_code": row["department_code"],
            "officer_id": row["officer_id"], "key": args[0]}


# ---------------------------------------------------------------- demo users

DEMO_PREFIX = "demo_"


def demo_users(conn) -> list[dict]:
    """A demo admin and one demo user per assignable role (idempotent).

    Returns one entry per role: {username, role, password (None when the user already existed),
    status}. A department handler is bound to the first active department and a grid officer to the
    first active officer; without one, that user is skipped and said so.
    """
    department = conn.execute("SELECT code FROM department WHERE active ORDER BY code LIMIT 1").fetchone()
    officer = conn.execute("SELECT code FROM officer WHERE active ORDER BY code LIMIT 1").fetchone()
    results = []
    for role in [r["code"] for r in conn.execute(
            "SELECT code FROM app_role WHERE assignable ORDER BY code = 'admin' DESC, code")]:
        username = DEMO_PREFIX + role
        if conn.execute("SELECT 1 FROM app_user WHERE username = %s", [username]).fetchone():
            results.append({"username": username, "role": role, "password": None, "status": "exists (left alone)"})
            continue
        binding = {}
        if role == "department_handler":
            if department is None:
                results.append({"username": username, "role": role, "password": None,
                                "status": "skipped: no department loaded"})
                continue
            binding["department"] = department["code"]
        if role == "grid_officer":
            if officer is None:
                results.append({"username": username, "role": role, "password": None,
                                "status": "skipped: no officer loaded"})
                continue
            binding["officer"] = officer["code"]
        password = generate_password()
        add_user(conn, username, [role], password=password, display_name=f"演示用户（{role}）",
                 actor="cli", actor_role="admin", **binding)
        results.append({"username": username, "role": role, "password": password, "status": "created"})
    return results
