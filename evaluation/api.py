"""HTTP routes of the evaluation part (mounted under /api by civicgrid.app); who may call them is in
security/access.yml (read: evaluator, leader, admin; compute and publish: evaluator, admin; the
method: admin writes).

- GET  /evaluation/periods?kind=                 periods with their latest revision and state
- POST /evaluation/periods {kind, code, start?, end?, name?, compute?}   a period (and revision 1)
- GET  /evaluation/periods/{id}                  the period and all its revisions
- POST /evaluation/periods/{id}/compute {reason}  a new revision (a recomputation needs a reason)
- POST /evaluation/revisions/{id}/publish         stamps the revision as published
- GET  /evaluation/periods/{id}/results?kind=&revision=   rows ranked, with 环比 (previous period)
                                                 and 同比 (a year before) score and rank changes
- GET  /evaluation/periods/{id}/cases?kind=&code=&indicator=&revision=   the cases behind a number
- GET  /evaluation/periods/{id}/map?kind=&revision=   areas as GeoJSON with score, grade, indicators
- GET  /evaluation/history?kind=&code=&period_kind=   one entity's scores over the periods
- GET  /evaluation/periods/{id}/export.xlsx | export.pdf ?kind=&revision=
- GET  /evaluation/method; PUT /evaluation/method {config, note}   a new method version (validated)
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import datetime
from decimal import Decimal
from typing import Literal

from psycopg.types.json import Jsonb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.db import connect, load_sql
from civicgrid.errors import InvalidInput, NotFound
from civicgrid.evaluation import compute as comp
from civicgrid.evaluation import export
from civicgrid.evaluation import method as methods
from civicgrid.inputs import read_model
from civicgrid.security.principal import current_principal
from civicgrid.state import app_state

__all__ = ["lifespan", "routes"]

log = logging.getLogger("civicgrid.evaluation")
PACKAGE = "civicgrid.evaluation"
TIMER_SECONDS = 3600          # the period-closing timer looks once an hour (and 10 s after start)
PERIOD_KINDS = set(comp.KIND_NAMES)


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["monthly", "quarterly", "yearly", "custom"]
    code: str = Field(min_length=1, max_length=40)
    name: str | None = Field(None, min_length=1, max_length=100)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    compute: bool = True


class ComputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str | None = Field(None, max_length=500)


class MethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict
    note: str | None = Field(None, max_length=500)


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def _json(value, status: int = 200) -> Response:
    return Response(json.dumps(value, default=_encode, ensure_ascii=False), status_code=status,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


def _run(request: Request, work):
    """`work(conn)` in one transaction as the table owner (evaluation reads every case: its numbers
    are aggregates; the drill-down is for the roles the route allows), recording who acts."""
    pool, who = app_state(request).pool, current_principal().user

    def run():
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [who])
            return work(conn)

    return run_in_threadpool(run)


def _kind(request: Request, required: bool = True, areas_only: bool = False) -> str | None:
    raw = request.query_params.get("kind") or None
    allowed = methods.AREA_KINDS if areas_only else tuple(methods.KINDS)
    if raw is None and not required:
        return None
    if raw not in allowed:
        raise InvalidInput(f"kind must be one of {', '.join(allowed)}", field="kind")
    return raw


def _revision(conn, request: Request, period: dict) -> dict:
    raw = request.query_params.get("revision")
    if raw in (None, ""):
        if period["revision_id"] is None:
            raise NotFound(f"period {period['code']} has not been computed yet", field="revision")
        return conn.execute("SELECT * FROM evaluation_revision WHERE id = %s", [period["revision_id"]]).fetchone()
    if not raw.isdigit():
        raise InvalidInput("revision must be a revision number of the period", field="revision")
    rev = conn.execute("SELECT * FROM evaluation_revision WHERE period_id = %s AND revision = %s", [period["id"], int(raw)]).fetchone()
    if rev is None:
        raise NotFound(f"period {period['code']} has no revision {raw}", field="revision")
    return rev


def _period_json(p: dict) -> dict:
    return {"id": p["id"], "kind": p["kind"], "kind_name": comp.KIND_NAMES[p["kind"]], "code": p["code"], "name": p["name"],
            "start": p["start_at"], "end": p["end_at"], "state": p["state"], "revision": p["revision"],
            "method_version": p["method_version"], "computed_at": p["computed_at"], "published_at": p["published_at"]}


async def list_periods(request: Request) -> Response:
    kind = request.query_params.get("kind") or None
    if kind is not None and kind not in PERIOD_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(sorted(PERIOD_KINDS))}", field="kind")
    rows = await _run(request, lambda conn: conn.execute(
        "SELECT * FROM evaluation_period_latest WHERE %(k)s::text IS NULL OR kind = %(k)s ORDER BY start_at DESC, kind",
        {"k": kind}).fetchall())
    return _json({"periods": [_period_json(p) for p in rows],
                  "kinds": {k: v[0] for k, v in methods.KINDS.items()}, "period_kinds": comp.KIND_NAMES})


async def create_period(request: Request) -> Response:
    body = await read_model(request, PeriodIn)

    def work(conn):
        p = comp.ensure_period(conn, body.kind, body.code, body.start, body.end, body.name)
        if body.compute and comp.period(conn, p["id"])["revision"] is None:
            comp.compute(conn, p["id"])
        return _detail(conn, p["id"])

    return _json(await _run(request, work), 201)


def _detail(conn, period_id: int) -> dict:
    p = comp.period(conn, period_id)
    revs = conn.execute("SELECT * FROM evaluation_revision WHERE period_id = %s ORDER BY revision DESC", [period_id]).fetchall()
    return {**_period_json(p), "revisions": [{k: r[k] for k in ("id", "revision", "method_version", "reason", "computed_at",
                                                                 "computed_by", "published_at", "published_by")} for r in revs]}


async def get_period(request: Request) -> Response:
    return _json(await _run(request, lambda conn: _detail(conn, request.path_params["id"])))


async def compute_period(request: Request) -> Response:
    body = await read_model(request, ComputeIn, empty_ok=True)
    period_id = request.path_params["id"]

    def work(conn):
        comp.compute(conn, period_id, body.reason)
        return _detail(conn, period_id)

    return _json(await _run(request, work), 201)


async def publish_revision(request: Request) -> Response:
    def work(conn):
        rev = comp.publish(conn, request.path_params["id"])
        return _detail(conn, rev["period_id"])

    return _json(await _run(request, work))


def compared(conn, period: dict) -> tuple[int | None, int | None]:
    """Latest revisions of the previous period (环比) and the one a year before (同比), same kind."""
    if period["kind"] == "custom":
        return None, None
    prev = conn.execute("""SELECT revision_id FROM evaluation_period_latest
                           WHERE kind = %s AND end_at = %s AND revision_id IS NOT NULL""",
                        [period["kind"], period["start_at"]]).fetchone()
    yoy = None
    if period["kind"] != "yearly":
        yoy = conn.execute("""SELECT revision_id FROM evaluation_period_latest
                              WHERE kind = %s AND start_at = %s::timestamptz - interval '1 year'
                                AND end_at = %s::timestamptz - interval '1 year' AND revision_id IS NOT NULL""",
                           [period["kind"], period["start_at"], period["end_at"]]).fetchone()
    return (prev or {}).get("revision_id"), (yoy or {}).get("revision_id")


def results(conn, period: dict, rev: dict, kind: str) -> list[dict]:
    prev, yoy = compared(conn, period)
    rows = conn.execute(load_sql(PACKAGE, "results.sql"), {"rev": rev["id"], "kind": kind, "prev": prev, "yoy": yoy}).fetchall()
    out = []
    for r in rows:
        r = dict(r)
        r["score"] = float(r["score"])
        for k in ("prev_score", "yoy_score"):
            r[k] = None if r[k] is None else float(r[k])
        r["mom"] = None if r["prev_score"] is None else round(r["score"] - r["prev_score"], 2)   # 环比
        r["yoy"] = None if r["yoy_score"] is None else round(r["score"] - r["yoy_score"], 2)      # 同比
        r["rank_change"] = None if r["prev_rank"] is None else r["prev_rank"] - r["rank"]      # > 0: moved up
        out.append(r)
    return out


async def get_results(request: Request) -> Response:
    kind = _kind(request)

    def work(conn):
        p = comp.period(conn, request.path_params["id"])
        rev = _revision(conn, request, p)
        version = conn.execute("SELECT config FROM evaluation_method WHERE version = %s", [rev["method_version"]]).fetchone()
        cfg = version["config"]
        _, counted, rates = methods.KINDS[kind]
        return {"period": _period_json(p), "revision": rev["revision"], "method_version": rev["method_version"],
                "kind": kind, "kind_name": methods.KINDS[kind][0], "counted": counted, "rates": rates,
                "labels": methods.labels(cfg, kind), "weights": cfg[methods.section(kind)]["weights"],
                "grades": cfg["grades"], "rows": results(conn, p, rev, kind)}

    return _json(await _run(request, work))


async def get_cases(request: Request) -> Response:
    kind = _kind(request)
    code = request.query_params.get("code") or ""
    indicator = request.query_params.get("indicator") or ""
    if not code:
        raise InvalidInput("code names the entity (e.g. a unit grid's code)", field="code")
    if indicator not in methods.KINDS[kind][1]:
        raise InvalidInput(f"indicator must be one of {', '.join(methods.KINDS[kind][1])}", field="indicator")

    def work(conn):
        p = comp.period(conn, request.path_params["id"])
        rev = _revision(conn, request, p)
        rows = conn.execute(load_sql(PACKAGE, "drilldown.sql"),
                            {"rev": rev["id"], "kind": kind, "code": code, "indicator": indicator}).fetchall()
        count = conn.execute("""SELECT cardinality(case_ids) AS n FROM evaluation_case WHERE revision_id = %s
                                AND entity_kind = %s AND entity_code = %s AND indicator = %s""",
                             [rev["id"], kind, code, indicator]).fetchone()
        return {"period": p["code"], "revision": rev["revision"], "kind": kind, "code": code, "indicator": indicator,
                "count": count["n"] if count else 0, "cases": rows}

    return _json(await _run(request, work))


async def get_map(request: Request) -> Response:
    kind = _kind(request, areas_only=True)

    def work(conn):
        p = comp.period(conn, request.path_params["id"])
        rev = _revision(conn, request, p)
        rows = {r["entity_code"]: r for r in results(conn, p, rev, kind)}
        table = {"unit_grid": "unit_grid", "community": "community", "responsibility_grid": "responsibility_grid"}[kind]
        geoms = conn.execute(f"SELECT code, ST_AsGeoJSON(geom, 6, 0) AS g FROM {table}").fetchall()   # noqa: S608 - fixed names
        features = []
        for g in geoms:
            r = rows.get(g["code"])
            if r is None:
                continue
            props = {"code": g["code"], "name": r["entity_name"], "score": r["score"], "grade": r["grade"], "rank": r["rank"],
                     **{k: v for k, v in r["indicators"].items() if not isinstance(v, (dict, list))}}
            features.append({"type": "Feature", "id": g["code"], "geometry": json.loads(g["g"]), "properties": props})
        return {"type": "FeatureCollection", "kind": kind, "period": p["code"], "revision": rev["revision"], "features": features}

    body = await _run(request, work)
    return Response(json.dumps(body, default=_encode, ensure_ascii=False), media_type="application/geo+json",
                    headers={"Cache-Control": "no-store"})


async def get_history(request: Request) -> Response:
    kind = _kind(request)
    code = request.query_params.get("code") or ""
    period_kind = request.query_params.get("period_kind") or "monthly"
    if not code:
        raise InvalidInput("code names the entity", field="code")
    if period_kind not in PERIOD_KINDS:
        raise InvalidInput(f"period_kind must be one of {', '.join(sorted(PERIOD_KINDS))}", field="period_kind")
    rows = await _run(request, lambda conn: conn.execute(load_sql(PACKAGE, "history.sql"),
                                                         {"kind": kind, "code": code, "period_kind": period_kind}).fetchall())
    return _json({"kind": kind, "code": code, "period_kind": period_kind, "points": rows})


async def get_method(request: Request) -> Response:
    def work(conn):
        version, cfg = methods.current(conn)
        rows = conn.execute("SELECT version, note, created_at, created_by FROM evaluation_method ORDER BY version DESC").fetchall()
        return {"version": version, "config": cfg, "versions": rows, "labels": methods.labels(cfg, "area")}

    return _json(await _run(request, work))


async def put_method(request: Request) -> Response:
    body = await read_model(request, MethodIn)
    methods.validate(body.config)

    def work(conn):
        methods.current(conn)   # version 1 first, so the history starts with evaluation.yml
        row = conn.execute("INSERT INTO evaluation_method (config, note) VALUES (%s, %s) RETURNING version",
                           [Jsonb(body.config), body.note]).fetchone()
        return {"version": row["version"], "config": body.config}

    return _json(await _run(request, work), 201)


async def export_file(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    kind = _kind(request, required=False)

    def work(conn):
        p = comp.period(conn, request.path_params["id"])
        rev = _revision(conn, request, p)
        return export.build(conn, fmt, p, rev, [kind] if kind else list(methods.KINDS), results)

    data, media, name = await _run(request, work)
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}", "Cache-Control": "no-store"})


routes = [
    Route("/evaluation/periods", list_periods, methods=["GET"]),
    Route("/evaluation/periods", create_period, methods=["POST"]),
    Route("/evaluation/periods/{id:int}", get_period, methods=["GET"]),
    Route("/evaluation/periods/{id:int}/compute", compute_period, methods=["POST"]),
    Route("/evaluation/revisions/{id:int}/publish", publish_revision, methods=["POST"]),
    Route("/evaluation/periods/{id:int}/results", get_results, methods=["GET"]),
    Route("/evaluation/periods/{id:int}/cases", get_cases, methods=["GET"]),
    Route("/evaluation/periods/{id:int}/map", get_map, methods=["GET"]),
    Route("/evaluation/periods/{id:int}/export.{fmt:str}", export_file, methods=["GET"]),
    Route("/evaluation/history", get_history, methods=["GET"]),
    Route("/evaluation/method", get_method, methods=["GET"]),
    Route("/evaluation/method", put_method, methods=["PUT"]),
]


def run_timer(dsn: str, stop: threading.Event) -> None:
    """Closes ended periods: 10 s after start, then hourly (a restart misses nothing: close_due
    looks at the last ended month, quarter and year and computes those without a revision)."""
    wait = 10.0
    while not stop.wait(wait):
        wait = TIMER_SECONDS
        try:
            with connect(dsn) as conn, conn.transaction():
                conn.execute("SELECT set_config('civicgrid.actor', 'system', true)")
                for rev in comp.close_due(conn):
                    log.info("evaluation: period %s computed (revision %s)", rev["period_id"], rev["revision"])
        except Exception:   # keep the timer alive over a database restart
            log.exception("evaluation timer failed; trying again later")
            wait = 60.0


@contextlib.asynccontextmanager
async def lifespan(state):
    stop = threading.Event()
    threading.Thread(target=run_timer, args=(state.settings.dsn, stop), name="evaluation-timer", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
