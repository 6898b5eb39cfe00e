"""HTTP routes of security (mounted under /api): web login (登录) / logout / who am I, and the audit
log for admins (审计日志).

POST /auth/login {username, password} → 200 {user, csrf_token} and an HttpOnly, SameSite=Strict
session cookie (Secure when the public URL or the request is https); 401 with one message for every
failure (unknown user, wrong password, locked, disabled), so names cannot be probed.
POST /auth/logout (cookie + X-CSRF-Token) → 204. GET /auth/me → {user|null, csrf_token|null, via,
tools: [map tool ids], actions: [action names]} (what the page may offer; see access.yml).
GET /audit?actor=&action=&since=&until=&result=ok|failed&before_id=&limit= → newest first, keyset-paged by id.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput, Unauthorized
from civicgrid.http import query_int
from civicgrid.inputs import read_model
from civicgrid.security import policy as policy_mod
from civicgrid.security import sessions
from civicgrid.security.access import client_addr
from civicgrid.security.principal import Principal, current_principal
from civicgrid.state import app_state


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=256)


def _user_json(p: Principal) -> dict | None:
    if p.is_anonymous:
        return None
    return {"username": p.user, "roles": sorted(p.roles), "department_code": p.department_code,
            "officer_id": p.officer_id}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or app_state(request).settings.public_url.startswith("https://")


async def login(request: Request) -> JSONResponse:
    body = await read_model(request, LoginIn, empty_ok=True)
    addr = client_addr(request.scope)
    pool = app_state(request).pool

    def run():
        with pool.connection() as conn:
            return sessions.login(conn, body.username, body.password, addr)

    result = await run_in_threadpool(run)
    if result is None:
        raise Unauthorized("wrong user name or password, or the account is locked or disabled", field="password")
    token, principal = result
    response = JSONResponse({"user": _user_json(principal), "csrf_token": principal.csrf_token})
    response.set_cookie(sessions.COOKIE, token, max_age=int(sessions.SESSION_MAX.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(sessions.COOKIE)
    if token:
        pool = app_state(request).pool

        def run():
            with pool.connection() as conn:
                sessions.logout(conn, token)

        await run_in_threadpool(run)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def derived_actions(state, policy: policy_mod.Policy, p: Principal) -> list[str]:
    """Actions that follow from data rather than from the rules file: the active workflows'
    transitions (cases.<action>, when the caller holds a role a transition names), the intake
    channels (cases.intake.<channel>) and the editable collections (features.write.<id>)."""
    from civicgrid.cases.roles import INTAKE_ROLES
    from civicgrid.layers.collections import COLLECTIONS

    out: list[str] = []
    if policy.can_use_route(p, "POST", "/api/cases"):
        channels = [ch for ch, roles in INTAKE_ROLES.items() if p.has_any(roles)]
        out += (["cases.intake"] if channels else []) + [f"cases.intake.{ch}" for ch in channels]
    if policy.can_use_route(p, "POST", "/api/cases/{id:int}/actions/{action}"):
        with state.pool.connection() as conn:
            workflows = state.cases.workflows
            names = {t.action for code in workflows.active_versions(conn) for t in workflows.get(conn, code).transitions
                     if not t.auto and p.has_any(t.roles)}
        out += [f"cases.{a}" for a in sorted(names)]
    out += [f"features.write.{c.id}" for c in COLLECTIONS.values()
            if c.editable and policy.can_write_collection(p, c.id)]
    return out


async def me(request: Request) -> JSONResponse:
    """Who is asking, and which map tools and actions the page should offer him (the same rules
    the access layer applies: security/access.yml `tools` and `actions`, plus derived_actions)."""
    p = current_principal()
    policy = policy_mod.load()
    actions = policy.actions_for(p) + await run_in_threadpool(derived_actions, app_state(request), policy, p)
    return JSONResponse({"user": _user_json(p), "csrf_token": p.csrf_token, "via": p.via,
                         "tools": policy.tools_for(p), "actions": actions},
                        headers={"Cache-Control": "no-store"})




def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time, got {raw!r}", field=name) from None


def _result(request: Request) -> str | None:
    raw = request.query_params.get("result") or None
    if raw not in (None, "ok", "failed"):
        raise InvalidInput("result must be ok or failed", field="result")
    return raw


async def audit_log(request: Request) -> JSONResponse:
    unknown = set(request.query_params) - {"actor", "action", "since", "until", "result", "before_id", "limit"}
    if unknown:
        raise InvalidInput(f"unknown parameter(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    params = {"actor": request.query_params.get("actor"), "action": request.query_params.get("action"),
              "since": _time(request, "since"), "until": _time(request, "until"),
              "result": _result(request),
              "before_id": query_int(request, "before_id", None, 1, 2**62),
              "limit": query_int(request, "limit", 100, 1, 1000)}
    pool = app_state(request).pool

    def run():
        with pool.connection() as conn:
            return conn.execute(load_sql("civicgrid.security", "audit_log.sql"), params).fetchall()

    rows = await run_in_threadpool(run)
    for r in rows:
        r["at"] = r["at"].isoformat()
    nxt = f"/api/audit?before_id={rows[-1]['id']}&limit={params['limit']}" if len(rows) == params["limit"] else None
    return JSONResponse({"entries": rows, "next": nxt})


routes = [
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
    Route("/audit", audit_log, methods=["GET"]),
]
