"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over our cases, for public apps and a
district platform that speaks it: services = GB/T 47678.5 matters (group = 大类), requests = cases
(service_request_id = case number, status open/closed, status_notes = the workflow state's name,
expected_datetime = the current step's deadline). JSON and XML by URL suffix. Errors are the spec's
array of {code, description}: 404 unknown resource, 400 anything else. Coordinates WGS84 ≈ CGCS2000.
POSTed requests enter as the `public` channel (anonymous; contact details stay private)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.cases import intake
from civicgrid.cases.roles import Actor
from civicgrid.db import load_sql
from civicgrid.errors import CivicgridError, InvalidInput, NotFound
from civicgrid.state import AppState, app_state

GBT = "GB/T 47678.5-2026"
PACKAGE = "civicgrid.cases"


def _render(data, fmt: str, root: str, item: str, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(data, status_code=status)
    top = ET.Element(root)
    for entry in data:
        el = ET.SubElement(top, item)
        for k, v in entry.items():
            ET.SubElement(el, k).text = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"),
                    status_code=status, media_type="text/xml; charset=utf-8")


def _fmt(request: Request) -> str:
    fmt = request.path_params.get("fmt")
    if fmt not in ("json", "xml"):
        raise NotFound("format must be .json or .xml", field="format")
    return fmt


def _guard(handler):
    async def wrapped(request: Request) -> Response:
        fmt = request.path_params.get("fmt") if request.path_params.get("fmt") in ("json", "xml") else "json"
        try:
            return await handler(request)
        except CivicgridError as exc:
            status = 404 if exc.status == 404 else (403 if exc.status == 403 else 400)
            return _render([{"code": exc.status, "description": exc.message}], fmt, "errors", "error", status)
    return wrapped


def _services(conn, state: AppState):
    return [{"service_code": r["code"], "service_name": r["name"], "description": r["name"], "metadata": False,
             "type": "realtime", "keywords": r["major_name"], "group": r["major_name"]}
            for r in conn.execute("SELECT code, name, major_name FROM code_catalog WHERE standard = %s AND kind = 'matter' "
                                  "ORDER BY code", [GBT]).fetchall()]


@_guard
async def services(request: Request) -> Response:
    fmt = _fmt(request)
    return _render(await run_in_threadpool(_with, app_state(request), _services), fmt, "services", "service")


@_guard
async def service_definition(request: Request) -> Response:
    fmt = _fmt(request)
    code = request.path_params["code"]
    found = [s for s in await run_in_threadpool(_with, app_state(request), _services) if s["service_code"] == code]
    if not found:
        raise NotFound(f"service {code} not found", field="service_code")
    if fmt == "json":
        return JSONResponse({"service_code": code, "attributes": []})
    return _render([{"service_code": code}], fmt, "service_definition", "attributes")


def _with(state: AppState, fn, *args):
    with state.pool.connection() as conn:
        return fn(conn, state, *args)




def _requests(conn, state: AppState, where: str, params: dict) -> list[dict]:
    out = []
    # `where` is one of the fixed clauses of this module; values travel as parameters
    for r in conn.execute(load_sql(PACKAGE, "open311_requests.sql").replace("{where}", where), params).fetchall():
        try:
            wf = state.cases.workflows.get(conn, r["workflow"], r["workflow_version"] or 1)
            state_name = wf.state_name(r["state"])
        except NotFound:
            state_name = r["state"]
        out.append({
            "service_request_id": r["service_request_id"], "status": "closed" if r["is_closed"] else "open",
            "status_notes": state_name, "service_name": r["service_name"], "service_code": r["service_code"],
            # only what a member of the public wrote in public; 12345 and officer notes may name people
            "description": r["description"] if r["channel"] == "public" else None,
            "agency_responsible": r["agency_responsible"], "service_notice": None,
            "requested_datetime": r["requested_datetime"].isoformat(), "updated_datetime": r["updated_datetime"].isoformat(),
            "expected_datetime": r["expected_datetime"].isoformat() if r["expected_datetime"] else None,
            "address": r["address"], "address_id": None, "zipcode": None, "lat": r["lat"], "long": r["long"],
            "media_url": None})
    return out


def _date(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be ISO 8601 with a time zone", field=name) from None
    if dt.tzinfo is None:
        raise InvalidInput(f"{name} must carry a time zone", field=name)
    return dt


@_guard
async def get_requests(request: Request) -> Response:
    fmt = _fmt(request)
    q = request.query_params
    allowed = {"service_request_id", "service_code", "start_date", "end_date", "status", "jurisdiction_id"}
    unknown = set(q) - allowed
    if unknown:
        raise InvalidInput(f"unknown parameter {sorted(unknown)[0]}", field=sorted(unknown)[0])
    if q.get("service_request_id"):
        ids = [s.strip() for s in q["service_request_id"].split(",") if s.strip()][:100]
        rows = await run_in_threadpool(_with, app_state(request), _requests, "c.case_number = ANY(%(ids)s)",
                                       {"ids": ids})
        return _render(rows, fmt, "service_requests", "request")
    end = _date(q.get("end_date"), "end_date") or datetime.now(timezone.utc)
    start = _date(q.get("start_date"), "start_date") or end - timedelta(days=90)
    if end - start > timedelta(days=90) or start > end:
        raise InvalidInput("start_date..end_date must be a window of at most 90 days", field="start_date")
    status = q.get("status")
    statuses = set((status or "open,closed").split(","))
    if not statuses <= {"open", "closed"}:
        raise InvalidInput("status is open, closed or both", field="status")
    where = "c.reported_at BETWEEN %(start)s AND %(end)s AND c.is_closed = ANY(%(closed)s)"
    params = {"start": start, "end": end, "closed": [s == "closed" for s in statuses]}
    if q.get("service_code"):
        where += " AND c.category_code = ANY(%(codes)s)"
        params["codes"] = q["service_code"].split(",")
    return _render(await run_in_threadpool(_with, app_state(request), _requests, where, params), fmt,
                   "service_requests", "request")


@_guard
async def get_request(request: Request) -> Response:
    fmt = _fmt(request)
    rows = await run_in_threadpool(_with, app_state(request), _requests, "c.case_number = %(id)s",
                                   {"id": request.path_params["id"]})
    if not rows:
        raise NotFound(f"service request {request.path_params['id']} not found", field="service_request_id")
    return _render(rows, fmt, "service_requests", "request")


@_guard
async def post_request(request: Request) -> Response:
    fmt = _fmt(request)
    form = await request.form()
    f = {k: v for k, v in form.items() if isinstance(v, str)}
    if not f.get("service_code"):
        raise InvalidInput("service_code is required", field="service_code")
    payload = {"channel": "public", "category_code": f["service_code"], "description": f.get("description")}
    try:
        if f.get("lat") or f.get("long"):
            payload["lat"], payload["lon"] = float(f["lat"]), float(f["long"])
    except (KeyError, ValueError):
        raise InvalidInput("lat and long must both be numbers", field="lat") from None
    if f.get("address_string"):
        payload["address"] = f["address_string"]
    name = " ".join(x for x in (f.get("last_name"), f.get("first_name")) if x)
    if name:
        payload["reporter_name"] = name[:50]
    if f.get("phone"):
        payload["reporter_phone"] = f["phone"]
    payload = {k: v for k, v in payload.items() if v not in (None, "")}
    state = app_state(request)
    answer, _ = await run_in_threadpool(intake.intake, state.pool, payload, Actor("open311", "public"),
                                        request.headers.get("idempotency-key"), state.cases)
    notice = "已受理，等待网格员核实" if answer["state"] == "verifying" else "已受理"
    return _render([{"service_request_id": answer["case_number"], "service_notice": notice, "account_id": None}],
                   fmt, "service_requests", "request", 201)


routes = [
    Route("/open311/v2/services.{fmt}", services, methods=["GET"]),
    Route("/open311/v2/services/{code}.{fmt}", service_definition, methods=["GET"]),
    Route("/open311/v2/requests.{fmt}", get_requests, methods=["GET"]),
    Route("/open311/v2/requests.{fmt}", post_request, methods=["POST"]),
    Route("/open311/v2/requests/{id}.{fmt}", get_request, methods=["GET"]),
]
