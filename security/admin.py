"""The admin pages' API (用户管理, 密钥管理): what `civicgrid user` and `civicgrid key` do, over HTTP.

GET  /admin/users                     users with roles and bindings, plus the assignable roles and officers
POST /admin/users                     {username, display_name, roles, department, officer, password_login}
                                      → 201 {user, password}: a generated password, shown this once
PATCH /admin/users/{username}         {roles: [...]} sets the roles
POST /admin/users/{username}/disable  no more logins; his sessions and keys stop at once
POST /admin/users/{username}/enable   启用: a disabled user logs in again (a lock-out lifted too)
POST /admin/users/{username}/password → {password}: a new generated one, shown once; ends his sessions
GET  /admin/keys                      every key: prefix, user, scopes, expiry, last use, status
POST /admin/keys                      {username, scopes, days} → 201 {token, …}: the token shown this once
POST /admin/keys/{prefix}/revoke
Each change is audited twice: by the access layer (the request) and by security.identity (what changed).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from civicgrid.inputs import read_model
from civicgrid.security import identity
from civicgrid.security.access import client_addr
from civicgrid.security.principal import current_principal
from civicgrid.state import app_state

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,40}$")]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=40)
    display_name: str = Field("", max_length=100)
    roles: list[Code] = Field(min_length=1, max_length=20)
    department: Code | None = None
    officer: Code | None = None
    password_login: bool = True       # false: a machine user that only holds API keys


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[Code] = Field(min_length=1, max_length=20)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=40)
    scopes: list[Literal["read", "write"]] = Field(min_length=1, max_length=2)
    days: int = Field(90, ge=1, le=identity.KEY_MAX_DAYS)
    # only these OGC API collections; null or absent: every collection the user may read
    collections: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(None, min_length=1, max_length=50)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


async def _in_db(request: Request, fn, *args, **kwargs):
    """Run fn(conn, …, actor=…, actor_role=…, client_addr=…) in one committed transaction."""
    p = current_principal()
    who = {"actor": p.user, "actor_role": p.role_label, "client_addr": client_addr(request.scope)}
    pool = app_state(request).pool

    def run():
        with pool.connection() as conn:
            return fn(conn, *args, **kwargs, **who)

    return _jsonable(await run_in_threadpool(run))


async def _read(request: Request, fn):
    pool = app_state(request).pool

    def run():
        with pool.connection() as conn:
            return fn(conn)

    return _jsonable(await run_in_threadpool(run))


def _users(conn) -> dict:
    roles = conn.execute("SELECT code, name FROM app_role WHERE assignable ORDER BY code").fetchall()
    officers = conn.execute("SELECT code, name FROM officer ORDER BY code").fetchall()
    return {"users": identity.list_users(conn), "roles": roles, "officers": officers}


async def list_users(request: Request) -> JSONResponse:
    return JSONResponse(await _read(request, _users), headers={"Cache-Control": "no-store"})


def _add(conn, body: UserIn, **who) -> dict:
    password = identity.generate_password() if body.password_login else None
    user = identity.add_user(conn, body.username, body.roles, password=password, display_name=body.display_name,
                             department=body.department, officer=body.officer, **who)
    return {"user": user, "password": password}


async def add_user(request: Request) -> JSONResponse:
    body = await read_model(request, UserIn)
    return JSONResponse(await _in_db(request, _add, body), status_code=201, headers={"Cache-Control": "no-store"})


def _set_roles(conn, username: str, roles: list[str], **who) -> dict:
    user = identity._user_row(conn, username)
    current = set(identity._roles_of(conn, user["id"]))
    wanted = list(dict.fromkeys(roles))
    add = [r for r in wanted if r not in current]
    remove = sorted(current - set(wanted))
    if not add and not remove:
        return {"username": username, "roles": sorted(current)}
    return {"username": username, "roles": identity.set_roles(conn, username, add=add, remove=remove, **who)}


async def patch_user(request: Request) -> JSONResponse:
    body = await read_model(request, RolesIn)
    return JSONResponse(await _in_db(request, _set_roles, request.path_params["username"], body.roles))


def _disable(conn, username: str, **who) -> dict:
    changed = identity.disable_user(conn, username, **who)
    return {"username": username, "disabled": True, "changed": changed}


async def disable_user(request: Request) -> JSONResponse:
    return JSONResponse(await _in_db(request, _disable, request.path_params["username"]))


def _enable(conn, username: str, **who) -> dict:
    changed = identity.enable_user(conn, username, **who)
    return {"username": username, "disabled": False, "changed": changed}


async def enable_user(request: Request) -> JSONResponse:
    return JSONResponse(await _in_db(request, _enable, request.path_params["username"]))


def _password(conn, username: str, **who) -> dict:
    password = identity.generate_password()
    identity.set_password(conn, username, password, **who)
    return {"username": username, "password": password}


async def reset_password(request: Request) -> JSONResponse:
    return JSONResponse(await _in_db(request, _password, request.path_params["username"]),
                        headers={"Cache-Control": "no-store"})


async def list_keys(request: Request) -> JSONResponse:
    return JSONResponse({"keys": await _read(request, identity.list_keys)}, headers={"Cache-Control": "no-store"})


def _create_key(conn, body: KeyIn, **who) -> dict:
    return identity.create_key(conn, body.username, body.scopes, body.days, collections=body.collections, **who)


async def create_key(request: Request) -> JSONResponse:
    body = await read_model(request, KeyIn)
    return JSONResponse(await _in_db(request, _create_key, body), status_code=201, headers={"Cache-Control": "no-store"})


def _revoke(conn, prefix: str, **who) -> dict:
    return {"prefix": prefix, "revoked": True, "changed": identity.revoke_key(conn, prefix, **who)}


async def revoke_key(request: Request) -> JSONResponse:
    return JSONResponse(await _in_db(request, _revoke, request.path_params["prefix"]))


routes = [
    Route("/admin/users", list_users, methods=["GET"]),
    Route("/admin/users", add_user, methods=["POST"]),
    Route("/admin/users/{username}", patch_user, methods=["PATCH"]),
    Route("/admin/users/{username}/disable", disable_user, methods=["POST"]),
    Route("/admin/users/{username}/enable", enable_user, methods=["POST"]),
    Route("/admin/users/{username}/password", reset_password, methods=["POST"]),
    Route("/admin/keys", list_keys, methods=["GET"]),
    Route("/admin/keys", create_key, methods=["POST"]),
    Route("/admin/keys/{prefix}/revoke", revoke_key, methods=["POST"]),
]
