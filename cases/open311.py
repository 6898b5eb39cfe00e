"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over our cases, for public apps and a
district platform that speaks it: services = GB/T 47678.5 matters (group = 大类), requests = cases
(service_request_id = case number, status open/closed, status_notes = the workflow state's name,
expected_datetime = the current step's deadline). JSON and XML by URL suffix. Errors are the spec's
array of {code, description}: 404 unknown resource, 400 anything else. Coordinates WGS84 ≈ CGCS2000.
POSTed requests enter as the `public` channel (anonymous; contact details stay private)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from xml.etree import ElementTree as ET

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.cases import intake
from civicgrid.cases.roles import Actor
from civicgrid.db import load_sql
from civicgrid.errors import CivicgridError, Forbidden, InvalidInput, NotFound
from civicgrid.state import AppState, app_state

GBT = "GB/T 47678.5-2026"
PACKAGE = "civicgrid.cases"
LOCAL = timezone(timedelta(hours=8))          # Beijing time: dates without a time are local days
PAGE_SIZE = 1000                              # the spec's default (and largest) number of requests
# our intake's field names → the GeoReport v2 names a client sent
PUBLIC_NAMES = {"lon": "long", "lat": "lat", "category_code": "service_code", "address": "address_string",
                "reporter_phone": "phone", "reporter_name": "last_name", "description": "description"}


def stamp(value: datetime | None) -> str | None:
    """The one timestamp format of every answer: whole seconds, Beijing offset (2026-11-20T08:00:00+08:00)."""
    return value.astimezone(LOCAL).replace(microsecond=0).isoformat() if value else None


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
            field = PUBLIC_NAMES.get(exc.field, exc.field)
            message = exc.message
            if exc.field and field != exc.field:
                message = re.sub(rf"\b{re.escape(exc.field)}\b", field, message)
            error = {"code": exc.status, "description": message}
            if field:
                error["field"] = field
            return _render([error], fmt, "errors", "error", status)
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
    # <service_definition><service_code/><attributes/></service_definition>, as the spec shows it
    top = ET.Element("service_definition")
    ET.SubElement(top, "service_code").text = code
    ET.SubElement(top, "attributes")
    return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"),
                    media_type="text/xml; charset=utf-8")


@_guard
async def discovery(request: Request) -> Response:
    """The endpoint discovery document (GeoReport v2 "Service Discovery")."""
    fmt = _fmt(request)
    base = app_state(request).settings.public_url + "/api/open311/v2/"
    doc = {"changeset": "2026-12-01T00:00:00+08:00", "contact": "仁和镇综合执法指挥中心", "key_service": "civicgrid key create",
           "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                          "changeset": "2026-12-01T00:00:00+08:00", "type": "production",
                          "formats": ["application/json", "text/xml"]}]}
    if fmt == "json":
        return JSONResponse(doc)
    top = ET.Element("discovery")
    for k in ("changeset", "contact", "key_service"):
        ET.SubElement(top, k).text = doc[k]
    eps = ET.SubElement(top, "endpoints")
    for ep in doc["endpoints"]:
        el = ET.SubElement(eps, "endpoint")
        for k in ("specification", "url", "changeset", "type"):
            ET.SubElement(el, k).text = ep[k]
        formats = ET.SubElement(el, "formats")
        for f in ep["formats"]:
            ET.SubElement(formats, "format").text = f
    return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"),
                    media_type="text/xml; charset=utf-8")


def _key_user(state: AppState, token: str) -> dict | None:
    from civicgrid.security.identity import authenticate_key

    with state.pool.connection() as conn:
        return authenticate_key(conn, token)


def _positive(raw: str | None, name: str, default: int, high: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from 1 to {high}", field=name)
    return int(raw)


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
            "requested_datetime": stamp(r["requested_datetime"]), "updated_datetime": stamp(r["updated_datetime"]),
            "expected_datetime": stamp(r["expected_datetime"]),
            "address": r["address"], "address_id": None, "zipcode": None, "lat": r["lat"], "long": r["long"],
            "media_url": None})
    return out


def _date(text: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO 8601 date-time with a zone, or a date alone: that local day (its end for end_date)."""
    if not text:
        return None
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{name} must be a date (2026-11-20) or a date-time with a time zone", field=name) from None
        start = datetime.combine(day, time(0), LOCAL)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
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
    # other parameters (api_key, jurisdiction_id, lat/long/radius, extensions) are ignored, as the
    # spec's clients expect; page/page_size are the pagination extension
    page = _positive(q.get("page"), "page", 1, 1_000_000)
    page_size = _positive(q.get("page_size"), "page_size", PAGE_SIZE, PAGE_SIZE)
    if q.get("service_request_id"):
        ids = [s.strip() for s in q["service_request_id"].split(",") if s.strip()][:100]
        rows = await run_in_threadpool(_with, app_state(request), _requests, "c.case_number = ANY(%(ids)s)",
                                       {"ids": ids, "limit": PAGE_SIZE, "offset": 0})
        return _render(rows, fmt, "service_requests", "request")
    end = _date(q.get("end_date"), "end_date", end=True) or datetime.now(timezone.utc)
    start = _date(q.get("start_date"), "start_date") or end - timedelta(days=90)
    if end - start > timedelta(days=90) or start > end:
        raise InvalidInput("start_date..end_date must be a window of at most 90 days", field="start_date")
    status = q.get("status")
    statuses = set((status or "open,closed").split(","))
    if not statuses <= {"open", "closed"}:
        raise InvalidInput("status is open, closed or both", field="status")
    where = "c.reported_at BETWEEN %(start)s AND %(end)s AND c.is_closed = ANY(%(closed)s)"
    params = {"start": start, "end": end, "closed": [s == "closed" for s in statuses],
              "limit": page_size, "offset": (page - 1) * page_size}
    if q.get("service_code"):
        where += " AND c.category_code = ANY(%(codes)s)"
        params["codes"] = q["service_code"].split(",")
    return _render(await run_in_threadpool(_with, app_state(request), _requests, where, params), fmt,
                   "service_requests", "request")


@_guard
async def get_request(request: Request) -> Response:
    fmt = _fmt(request)
    rows = await run_in_threadpool(_with, app_state(request), _requests, "c.case_number = %(id)s",
                                   {"id": request.path_params["id"], "limit": 1, "offset": 0})
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
    actor = Actor("open311", "public")
    if f.get("api_key"):   # the spec's key for POSTs: one of our API keys; its user is recorded as reporter
        found = await run_in_threadpool(_key_user, state, f["api_key"])
        if found is None:
            raise Forbidden("api_key is unknown, expired or revoked", field="api_key")
        actor = Actor(found["username"], "public")
    answer, _ = await run_in_threadpool(intake.intake, state.pool, payload, actor,
                                        request.headers.get("idempotency-key"), state.cases)
    notice = "已受理，等待网格员核实" if answer["state"] == "verifying" else "已受理"
    return _render([{"service_request_id": answer["case_number"], "service_notice": notice, "account_id": None}],
                   fmt, "service_requests", "request", 201)


routes = [
    Route("/open311/discovery.{fmt}", discovery, methods=["GET"]),
    Route("/open311/v2/discovery.{fmt}", discovery, methods=["GET"]),
    Route("/open311/v2/services.{fmt}", services, methods=["GET"]),
    Route("/open311/v2/services/{code}.{fmt}", service_definition, methods=["GET"]),
    Route("/open311/v2/requests.{fmt}", get_requests, methods=["GET"]),
    Route("/open311/v2/requests.{fmt}", post_request, methods=["POST"]),
    Route("/open311/v2/requests/{id}.{fmt}", get_request, methods=["GET"]),
]
