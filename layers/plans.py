"""Plans (标绘方案), mounted under /api: named sets of shapes drawn on the map, owned by their
author and shared by visibility — private (the owner), staff (every staff role) or role (one role).
The shapes are the OGC API Features collection `annotations` (Part 4 writes, `?plan_id=`).

GET /plans → {plans: [...]}; POST /plans {name, visibility, role?} → 201 plan + ETag;
GET /plans/{id} → plan + ETag; PATCH /plans/{id} (If-Match; owner only) {name?, visibility?, role?};
DELETE /plans/{id} (If-Match; owner only; its shapes go with it) → 204;
GET /plans/{id}/export → the plan as a GeoJSON FeatureCollection (a download).
plan = {id, name, visibility, role, owner, owner_name, mine, updated_at, feature_count, version}.

Visibility is decided by PostgreSQL (row-level security, migration 0822): every statement runs after
security_enter, so a plan the caller may not see is a 404 exactly like one that does not exist,
and its shapes are absent from `annotations` items. The owner is the caller, set by the database.
"""
from __future__ import annotations

import re
from typing import Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.db import load_sql
from civicgrid.errors import Forbidden, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from civicgrid.inputs import read_model
from civicgrid.security import rows
from civicgrid.security.policy import ROLE_CODES
from civicgrid.security.principal import current_principal
from civicgrid.state import app_state

PLAN_ROLES = sorted(ROLE_CODES - {"public", "district_platform"})   # a plan is shared among staff


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    visibility: Literal["private", "staff", "role"] = "private"
    role: str | None = None

    @model_validator(mode="after")
    def _role(self):
        _check_role(self.visibility, self.role)
        return self


class PlanPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str | None = Field(None, min_length=1, max_length=100)
    visibility: Literal["private", "staff", "role"] | None = None
    role: str | None = None


def _check_role(visibility: str, role: str | None) -> None:
    if visibility == "role" and role not in PLAN_ROLES:
        raise ValueError(f"role: visibility 'role' needs one of {', '.join(PLAN_ROLES)}")
    if visibility != "role" and role is not None:
        raise ValueError("role: only a plan shared with a role names one")


def _if_match(request: Request) -> int:
    value = request.headers.get("if-match")
    if value is None:
        raise PreconditionRequired("this change needs an If-Match header with the plan's ETag (GET it first)",
                                   field="If-Match")
    m = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', value)
    if not m:
        raise PreconditionFailed(f"If-Match {value} is not an ETag of this plan", field="If-Match")
    return int(m.group(1))


def _json(plan: dict) -> dict:
    out = dict(plan)
    for k in ("created_at", "updated_at"):
        out[k] = out[k].isoformat()
    return out


def _response(plan: dict, status: int = 200) -> JSONResponse:
    headers = {"ETag": f'"{plan["version"]}"', "Cache-Control": "no-store"}
    if status == 201:
        headers["Location"] = f"/api/plans/{plan['id']}"
    return JSONResponse(_json(plan), status_code=status, headers=headers)


def _run(request: Request, work):
    """`work(conn)` in one transaction acting as the caller (row security)."""
    pool, principal = app_state(request).pool, current_principal()

    def run():
        with pool.connection() as conn, conn.transaction():
            rows.enter(conn, principal)
            try:
                return work(conn)
            except psycopg.errors.CheckViolation as exc:
                raise InvalidInput(f"refused by the database: {exc.diag.message_primary}", field="body") from exc

    return run_in_threadpool(run)


def _one(conn, plan_id: int) -> dict:
    plan = conn.execute(load_sql("civicgrid.layers", "plans_list.sql"), {"id": plan_id}).fetchone()
    if plan is None:
        raise NotFound(f"plan {plan_id} not found", field="id")
    return plan


async def list_plans(request: Request) -> JSONResponse:
    plans = await _run(request, lambda conn: conn.execute(load_sql("civicgrid.layers", "plans_list.sql"),
                                                          {"id": None}).fetchall())
    return JSONResponse({"plans": [_json(p) for p in plans]}, headers={"Cache-Control": "no-store"})


async def create_plan(request: Request) -> JSONResponse:
    body = await read_model(request, PlanIn)

    def work(conn):
        new = conn.execute("INSERT INTO annotation_plan (name, visibility, role) VALUES (%s, %s, %s) RETURNING id",
                           [body.name, body.visibility, body.role]).fetchone()
        return _one(conn, new["id"])

    return _response(await _run(request, work), 201)


async def get_plan(request: Request) -> JSONResponse:
    plan_id = request.path_params["id"]
    return _response(await _run(request, lambda conn: _one(conn, plan_id)))


def _owned(conn, plan_id: int, expected: int) -> dict:
    plan = _one(conn, plan_id)
    if not plan["mine"]:
        raise Forbidden(f"plan {plan_id} belongs to {plan['owner_name']}: only its owner may change or delete it",
                        field="owner")
    if plan["version"] != expected:
        raise PreconditionFailed(f"the plan changed: its ETag is \"{plan['version']}\", not \"{expected}\"; "
                                 "GET it again and retry", field="If-Match")
    return plan


async def patch_plan(request: Request) -> JSONResponse:
    plan_id = request.path_params["id"]
    expected = _if_match(request)
    body = await read_model(request, PlanPatch)

    def work(conn):
        plan = _owned(conn, plan_id, expected)
        new = {"name": plan["name"], "visibility": plan["visibility"], "role": plan["role"],
               **body.model_dump(exclude_unset=True)}
        if "visibility" in body.model_fields_set and new["visibility"] != "role" and "role" not in body.model_fields_set:
            new["role"] = None
        try:
            _check_role(new["visibility"], new["role"])
        except ValueError as exc:
            raise InvalidInput(str(exc), field="role") from None
        conn.execute("UPDATE annotation_plan SET name = %(name)s, visibility = %(visibility)s, role = %(role)s, "
                     "version = version + 1, updated_at = now() WHERE id = %(id)s", {**new, "id": plan_id})
        return _one(conn, plan_id)

    return _response(await _run(request, work))


async def delete_plan(request: Request) -> Response:
    plan_id = request.path_params["id"]
    expected = _if_match(request)

    def work(conn):
        _owned(conn, plan_id, expected)
        conn.execute("DELETE FROM annotation_plan WHERE id = %s", [plan_id])

    await _run(request, work)
    return Response(status_code=204)


async def export_plan(request: Request) -> Response:
    plan_id = request.path_params["id"]

    def work(conn):
        row = conn.execute(load_sql("civicgrid.layers", "plans_export.sql"), {"id": plan_id}).fetchone()
        if row is None:
            raise NotFound(f"plan {plan_id} not found", field="id")
        return row["doc"]

    doc = await _run(request, work)
    return Response(doc, media_type="application/geo+json",
                    headers={"Content-Disposition": f'attachment; filename="plan-{plan_id}.geojson"',
                             "Cache-Control": "no-store"})


routes = [
    Route("/plans", list_plans, methods=["GET"]),
    Route("/plans", create_plan, methods=["POST"]),
    Route("/plans/{id:int}", get_plan, methods=["GET"]),
    Route("/plans/{id:int}", patch_plan, methods=["PATCH"]),
    Route("/plans/{id:int}", delete_plan, methods=["DELETE"]),
    Route("/plans/{id:int}/export", export_plan, methods=["GET"]),
]
