"""HTTP routes of the exchange part (mounted under /api by civicgrid.app); rules in security/access.yml.

- POST /exchange/inbound            a message from the district platform (督办 / 退回 / 结案确认 / 回访),
                                    once per message_id (inbound.py)
- GET  /exchange/status             monitoring: backlog, lag, retries, dead letters, on-time rate, the
                                    configured adapter (admins, leaders, evaluators)
- GET  /exchange/outbox             outbox rows, newest first: ?state=, ?case=, ?before= (keyset), ?limit=
- POST /exchange/outbox/resend      dead letters back to the queue: {"ids": [...]} or {"case_id": n}
The delivery worker runs beside the server when CIVICGRID_DISTRICT_URL is set (outbox.lifespan).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid import metrics
from civicgrid.cases.roles import current_actor
from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput
from civicgrid.exchange import inbound, outbox
from civicgrid.exchange.outbox import lifespan
from civicgrid.http import query_int
from civicgrid.inputs import read_json, read_model
from civicgrid.security.principal import current_principal
from civicgrid.state import AppState, app_state

__all__ = ["lifespan", "routes"]

PACKAGE = "civicgrid.exchange"
STATES = ("pending", "delivering", "delivered", "dead")


def _encode(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return float(value)


def _json(value, status: int = 200) -> Response:
    return Response(json.dumps(value, default=_encode, ensure_ascii=False), status_code=status,
                    media_type="application/json")


def _tx(state: AppState, fn, *args):
    with state.pool.connection() as conn:
        with conn.transaction():
            return fn(conn, *args)


async def receive(request: Request) -> Response:
    msg = inbound.parse(await read_json(request))
    actor = current_actor().acting_as({"district_platform"})
    return _json(await run_in_threadpool(_tx, app_state(request), inbound.receive, msg, actor))


def status(conn, settings) -> dict:
    row = conn.execute(load_sql(PACKAGE, "status.sql"),
                       {"on_time": settings.district_on_time_minutes, "days": 30}).fetchone()
    out = {k: (round(float(v), 3) if v is not None and not isinstance(v, int) else v) for k, v in row.items()}
    out["on_time_rate"] = round(row["on_time"] / row["due"], 4) if row["due"] else None
    out["on_time_minutes"] = settings.district_on_time_minutes
    out["window_days"] = 30
    out["target"] = {"adapter": settings.district_adapter, "configured": bool(settings.district_url),
                     "url": settings.district_url}
    return out


async def get_status(request: Request) -> Response:
    state = app_state(request)
    return _json(await run_in_threadpool(_tx, state, status, state.settings))


def list_outbox(conn, where_state, case_id, before, limit) -> list[dict]:
    return conn.execute(
        "SELECT o.id, o.case_id, c.case_number, o.event_seq, o.kind, o.idempotency_key, o.state, o.attempts, "
        "o.created_at, o.next_attempt_at, o.delivered_at, o.last_error, o.resent_by, o.resent_at "
        "FROM district_outbox o LEFT JOIN cases c ON c.id = o.case_id "
        "WHERE (%(state)s::text IS NULL OR o.state = %(state)s) AND (%(case)s::bigint IS NULL OR o.case_id = %(case)s) "
        "AND (%(before)s::bigint IS NULL OR o.id < %(before)s) ORDER BY o.id DESC LIMIT %(limit)s",
        {"state": where_state, "case": case_id, "before": before, "limit": limit}).fetchall()


async def get_outbox(request: Request) -> Response:
    state_filter = request.query_params.get("state") or None
    if state_filter is not None and state_filter not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    case_id = query_int(request, "case", 0, 1, 2**62) if request.query_params.get("case") else None
    before = query_int(request, "before", 0, 1, 2**62) if request.query_params.get("before") else None
    limit = query_int(request, "limit", 100, 1, 1000)
    rows = await run_in_threadpool(_tx, app_state(request), list_outbox, state_filter, case_id, before, limit)
    return _json({"items": rows, "count": len(rows), "next_before": rows[-1]["id"] if len(rows) == limit else None})


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(default_factory=list, max_length=1000)
    case_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self):
        if not self.ids and self.case_id is None:
            raise ValueError("name the dead letters: ids or case_id")
        return self


async def resend(request: Request) -> Response:
    body = await read_model(request, ResendIn)
    who = current_principal().user
    ids = await run_in_threadpool(_tx, app_state(request),
                                  lambda conn: outbox.resend(conn, ids=body.ids, case_id=body.case_id, actor=who))
    return _json({"resent": ids})


@metrics.on_scrape
async def outbox_gauges(state) -> list[metrics.Sample]:
    """/metrics: the outbox backlog by state, the retries under way and the age of the oldest undelivered event."""
    async with state.async_pool.connection(timeout=1) as conn:
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE state IN ('pending', 'delivering')), "
            "count(*) FILTER (WHERE state IN ('pending', 'delivering') AND attempts > 0), "
            "count(*) FILTER (WHERE state = 'dead'), "
            "coalesce(extract(epoch FROM now() - min(created_at)), 0) "
            "FROM district_outbox WHERE state <> 'delivered'")
        pending, retrying, dead, lag = await cur.fetchone()
    name = "civicgrid_district_outbox"
    return [metrics.Sample(name, "district outbox events not delivered", pending, {"state": "pending"}),
            metrics.Sample(name, "district outbox events not delivered", retrying, {"state": "retrying"}),
            metrics.Sample(name, "district outbox events not delivered", dead, {"state": "dead"}),
            metrics.Sample("civicgrid_district_outbox_lag_seconds", "age of the oldest undelivered district event",
                           float(lag))]


routes = [
    Route("/exchange/inbound", receive, methods=["POST"]),
    Route("/exchange/status", get_status, methods=["GET"]),
    Route("/exchange/outbox", get_outbox, methods=["GET"]),
    Route("/exchange/outbox/resend", resend, methods=["POST"]),
]
