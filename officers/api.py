"""HTTP routes of the officers part (mounted under /api by civicgrid.app); who may call them is in
security/access.yml (the group position_readers), which rows they see is PostgreSQL's row security.

- GET  /officers                 the live list: grids, last fix and its age, 在岗 / 离线 / 非工作时段,
                                 open alert; ?q= (name or code), ?status=
- GET  /alerts                   geofence alerts with history: ?status=open|closed, ?officer=, ?from=,
                                 ?to= (started in [from, to)), ?acknowledged=, ?since= (changed after),
                                 ?before= (keyset paging by id), ?limit=
- POST /alerts/{id}/ack          acknowledge (确认) with an optional {"comment"}
- GET  /alerts/stream            Server-Sent Events: `alert` events ({event, alert}) as the scan raises,
                                 ends, updates or someone acknowledges them; a comment line every
                                 15 s; the stream closes after STREAM_SECONDS and the browser's
                                 EventSource reconnects (re-authenticated). Without
                                 `Accept: text/event-stream` the same URL answers at once with the
                                 alerts changed after ?since= (a poll for clients without SSE).
"""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from civicgrid.db import load_sql
from civicgrid.errors import Conflict, InvalidInput, NotFound
from civicgrid.http import query_int
from civicgrid.inputs import loads
from civicgrid.officers.geofence import lifespan
from civicgrid.security import rows as row_security
from civicgrid.security.principal import Principal, current_principal
from civicgrid.state import AppState, app_state

__all__ = ["lifespan", "routes"]   # the part's hooks: the geofence worker and hub, the routes

PACKAGE = "civicgrid.officers"
STREAM_SECONDS = 300
PING_SECONDS = 15
STATUSES = {"open", "closed"}
OFFICER_STATUSES = {"on_duty", "offline", "off_shift"}


def _datetime(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time, e.g. 2026-11-20T08:00:00+08:00", field=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone, e.g. 2026-11-20T08:00:00+08:00", field=name)
    return value


def _choice(request: Request, name: str, allowed: set[str]) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and raw not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(sorted(allowed))}", field=name)
    return raw


def _boolean(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return raw.lower() == "true"


def _json(value) -> Response:
    return Response(json.dumps(value, default=_encode, ensure_ascii=False), media_type="application/json")


def _encode(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def _alerts(state: AppState, principal: Principal, params: dict) -> list[dict]:
    args = {"status": None, "officer": None, "from": None, "to": None, "acknowledged": None, "ids": None,
            "since": None, "before": None, "limit": 100, **params}
    with state.pool.connection() as conn:
        row_security.enter(conn, principal)
        return conn.execute(load_sql(PACKAGE, "alerts.sql"), args).fetchall()


# ---------------------------------------------------------------- officers

def _officers(state: AppState, principal: Principal, q: str | None, status: str | None) -> dict:
    with state.pool.connection() as conn:
        row_security.enter(conn, principal)
        items = conn.execute(load_sql(PACKAGE, "officers_live.sql"), {
            "q": q, "status": status, "offline_s": state.settings.officer_offline_minutes * 60}).fetchall()
        shift = conn.execute("SELECT code, name, starts_at, ends_at FROM duty_shift_at(now())").fetchone()
    counts = {s: 0 for s in sorted(OFFICER_STATUSES)}
    for item in items:
        counts[item["status"]] += 1
    return {"items": items, "counts": counts, "shift": shift,
            "offline_minutes": state.settings.officer_offline_minutes}


async def list_officers(request: Request) -> Response:
    q = (request.query_params.get("q") or "").strip() or None
    if q is not None and len(q) > 40:
        raise InvalidInput("q must be at most 40 characters", field="q")
    if q is not None:  # a plain substring: the caller's % and _ are not wildcards
        q = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    status = _choice(request, "status", OFFICER_STATUSES)
    return _json(await run_in_threadpool(_officers, app_state(request), current_principal(), q, status))


# ---------------------------------------------------------------- alerts

async def list_alerts(request: Request) -> Response:
    start, end = _datetime(request, "from"), _datetime(request, "to")
    if start and end and end <= start:
        raise InvalidInput("to must be after from", field="to")
    limit = query_int(request, "limit", 100, 1, 500)
    params = {"status": _choice(request, "status", STATUSES | {"all"}), "from": start, "to": end,
              "officer": query_int(request, "officer", 0, 1, 2**31 - 1) or None,
              "acknowledged": _boolean(request, "acknowledged"), "since": _datetime(request, "since"),
              "before": query_int(request, "before", 0, 1, 2**62) or None, "limit": limit}
    if params["status"] == "all":
        params["status"] = None
    state = app_state(request)
    items = await run_in_threadpool(_alerts, state, current_principal(), params)
    return _json({"items": items, "next": items[-1]["id"] if len(items) == limit else None,
                  "minutes": state.settings.geofence_minutes})


def _ack(state: AppState, principal: Principal, alert_id: int, comment: str | None) -> dict:
    with state.pool.connection() as conn:
        row_security.enter(conn, principal)
        found = conn.execute("SELECT acknowledged_by FROM geofence_alert WHERE id = %s AND raised_at IS NOT NULL "
                             "FOR UPDATE", [alert_id]).fetchone()
        if found is None:
            raise NotFound(f"no geofence alert {alert_id}", field="id")
        if found["acknowledged_by"] is not None:
            raise Conflict(f"alert {alert_id} was already acknowledged by {found['acknowledged_by']}", field="id")
        conn.execute("UPDATE geofence_alert SET acknowledged_by = %s, acknowledged_at = now(), ack_comment = %s "
                     "WHERE id = %s", [principal.user, comment, alert_id])
        return conn.execute(load_sql(PACKAGE, "alerts.sql"), {
            "status": None, "officer": None, "from": None, "to": None, "acknowledged": None, "ids": [alert_id],
            "since": None, "before": None, "limit": 1}).fetchone()


async def ack_alert(request: Request) -> Response:
    raw = await request.body()
    body = loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 500):
        raise InvalidInput("comment must be text of at most 500 characters", field="comment")
    alert = await run_in_threadpool(_ack, app_state(request), current_principal(), request.path_params["id"],
                                    (comment or "").strip() or None)
    return _json(alert)


def _sse(event: str, data, event_id=None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=_encode, ensure_ascii=False)}\n\n"


async def alert_stream(request: Request):
    state, principal = app_state(request), current_principal()
    if "text/event-stream" not in request.headers.get("accept", ""):
        since = _datetime(request, "since")
        items = await run_in_threadpool(_alerts, state, principal, {"since": since, "limit": 500})
        return _json({"items": items, "now": datetime.now(timezone.utc)})
    hub = state.extra["geofence_hub"]
    queue = hub.subscribe()

    async def events():
        loop = asyncio.get_running_loop()
        try:
            yield "retry: 3000\n\n"
            yield _sse("ready", {"minutes": state.settings.geofence_minutes, "now": datetime.now(timezone.utc)})
            deadline = loop.time() + STREAM_SECONDS
            while loop.time() < deadline:
                try:
                    note = await asyncio.wait_for(queue.get(), PING_SECONDS)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                # read as the caller: row security decides whether he may see this alert
                found = await run_in_threadpool(_alerts, state, principal, {"ids": [note["id"]], "limit": 1})
                if found:
                    yield _sse("alert", {"event": note.get("event"), "alert": found[0]}, found[0]["id"])
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


routes = [
    Route("/officers", list_officers, methods=["GET"]),
    Route("/alerts", list_alerts, methods=["GET"]),
    Route("/alerts/stream", alert_stream, methods=["GET"]),
    Route("/alerts/{id:int}/ack", ack_alert, methods=["POST"]),
]
