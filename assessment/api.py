"""HTTP routes of the operations assessment (运维考核), mounted under /api by civicgrid.app. Who may
call each is in security/access.yml (groups assessment_readers, ops_recorders, evaluators): the
vendor's staff (ops_staff) enter records, the evaluator (考核员) decides events, computes and signs.

- GET  /assessment/config                       items, rules (计分点), grades, stages, checklists
- GET  /assessment/months                       every assessed month (current revision) and the payments
- GET  /assessment/months/{month}               the month's result, its revisions and events
- POST /assessment/months/{month}/compute       propose from the records and compute the draft
- POST /assessment/months/{month}/sign          recompute and sign off (every proposal decided)
- POST /assessment/months/{month}/reassess      {"reason"}: a new draft revision of a signed month
- GET  /assessment/months/{month}/records       the six records of the month
- GET  /assessment/months/{month}/report?format=pdf|xlsx   the monthly work report with the score sheet
- POST /assessment/events                       {"month", "rule_code", "count", "occurred_at", "note"}
- POST /assessment/events/{id}/decision         {"status": "confirmed"|"dismissed", "reason"}
- GET/POST /assessment/staff, POST /assessment/roster, /attendance, /spot-checks, /lead-absences,
  /inspections, /faults, PATCH /assessment/faults/{id}, POST /assessment/reports   the records
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.assessment import inspect, service
from civicgrid.errors import Conflict, Forbidden, InvalidInput, NotFound
from civicgrid.inputs import read_model
from civicgrid.security.principal import Principal, current_principal
from civicgrid.state import app_state

__all__ = ["lifespan", "routes"]

lifespan = inspect.lifespan   # the daily inspection's system part, by a timer beside the server
SCORERS = frozenset({"admin", "evaluator"})   # may back-date a record's time (a paper record entered later)


def _encode(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    raise TypeError(type(value).__name__)


def _json(value, status: int = 200) -> Response:
    return Response(json.dumps(value, default=_encode, ensure_ascii=False), status_code=status,
                    media_type="application/json")


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone, e.g. 2026-11-20T08:00:00+08:00", field=field)
    return value


def _run(request: Request, work, *args):
    """`work(conn, principal, *args)` in one transaction on the pool, in the thread pool."""
    state, principal = app_state(request), current_principal()

    def call():
        with state.pool.connection() as conn, conn.transaction():
            return work(conn, principal, *args)
    return run_in_threadpool(call)


def _month(request: Request) -> date:
    return service.parse_month(request.path_params["month"])


# ---------------------------------------------------------------- months

async def get_config(request: Request) -> Response:
    return _json(await _run(request, lambda conn, p: service.config(conn)))


async def list_months(request: Request) -> Response:
    return _json(await _run(request, lambda conn, p: service.payments(conn)))


async def get_month(request: Request) -> Response:
    month = _month(request)
    return _json(await _run(request, lambda conn, p: service.month_view(conn, month)))


async def compute_month(request: Request) -> Response:
    month = _month(request)

    def work(conn, p):
        service.compute(conn, month, p.user)
        return service.month_view(conn, month)
    return _json(await _run(request, work))


async def sign_month(request: Request) -> Response:
    month = _month(request)

    def work(conn, p):
        service.check_assessable(conn, month)
        service.sign(conn, month, p.user)
        return service.month_view(conn, month)
    return _json(await _run(request, work))


class ReassessIn(BaseModel):
    reason: str = Field(min_length=2, max_length=1000)


async def reassess_month(request: Request) -> Response:
    month = _month(request)
    body = await read_model(request, ReassessIn)

    def work(conn, p):
        service.reassess(conn, month, p.user, body.reason)
        return service.month_view(conn, month)
    return _json(await _run(request, work), 201)


async def month_records(request: Request) -> Response:
    month = _month(request)
    return _json(await _run(request, lambda conn, p: service.records(conn, month)))


async def month_report(request: Request) -> Response:
    from civicgrid.assessment import report

    month = _month(request)
    fmt = request.query_params.get("format", "pdf")
    if fmt not in report.FORMATS:
        raise InvalidInput("format must be pdf or xlsx", field="format")

    def work(conn, p):
        if not service.revisions(conn, month):
            raise NotFound(f"{service.month_text(month)} has not been assessed (compute it first)", field="month")
        return report.build(report.gather(conn, month), fmt)
    content = await _run(request, work)
    media, ext = report.FORMATS[fmt]
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="ops-report-{service.month_text(month)}.{ext}"'})


# ---------------------------------------------------------------- events

class EventIn(BaseModel):
    month: str
    rule_code: str = Field(min_length=1, max_length=40)
    count: int = Field(1, ge=1, le=100)
    occurred_at: datetime
    note: str = Field("", max_length=1000)
    attachment: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")   # sha256 of an uploaded attachment


async def add_event(request: Request) -> Response:
    body = await read_model(request, EventIn)
    month = service.parse_month(body.month)
    _aware(body.occurred_at, "occurred_at")
    evidence = {"attachment": body.attachment} if body.attachment else {}

    def work(conn, p):
        service.check_assessable(conn, month)
        if body.attachment and not conn.execute("SELECT 1 FROM attachment WHERE sha256 = %s", [body.attachment]).fetchone():
            raise InvalidInput("attachment: no uploaded attachment with this sha256 (POST /api/attachments first)",
                               field="attachment")
        return service.add_event(conn, month, body.rule_code, body.count, body.occurred_at, body.note, evidence, p.user)
    return _json(await _run(request, work), 201)


class DecisionIn(BaseModel):
    status: Literal["confirmed", "dismissed"]
    reason: str = Field(min_length=2, max_length=1000)


async def decide_event(request: Request) -> Response:
    body = await read_model(request, DecisionIn)
    event_id = request.path_params["id"]
    return _json(await _run(request, lambda conn, p: service.decide(conn, event_id, body.status, body.reason, p.user)))


# ---------------------------------------------------------------- records (the vendor's staff)

def _guard(conn, *days: date | datetime) -> None:
    for d in days:
        if d is not None:
            day = d.astimezone(service.LOCAL).date() if isinstance(d, datetime) else d
            service.check_unlocked(conn, day.replace(day=1))


def _check_time(p: Principal, value: datetime | None, field: str) -> datetime:
    """Staff record what happens now; only the evaluator enters an earlier time (a paper record)."""
    _aware(value, field)
    now = datetime.now(timezone.utc)
    if value is None:
        return now
    if value > now:
        raise InvalidInput(f"{field} lies in the future", field=field)
    if not p.has_any(SCORERS) and (now - value).total_seconds() > 600:
        raise Forbidden(f"{field}: only the evaluator may enter an earlier time", field=field)
    return value


class StaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    title: str = Field("", max_length=40)
    is_lead: bool = False
    phone: str | None = Field(None, max_length=30)
    username: str | None = Field(None, max_length=40)   # the login he signs in with from his phone


async def staff(request: Request) -> Response:
    if request.method == "POST":
        return await add_staff(request)
    return _json(await _run(request, lambda conn, p: conn.execute(
        "SELECT s.*, u.username FROM ops_staff s LEFT JOIN app_user u ON u.id = s.user_id ORDER BY s.id").fetchall()))


async def add_staff(request: Request) -> Response:
    body = await read_model(request, StaffIn)

    def work(conn, p):
        user_id = None
        if body.username:
            user = conn.execute("SELECT id FROM app_user WHERE username = %s", [body.username]).fetchone()
            if user is None:
                raise InvalidInput(f"username: no user {body.username!r}", field="username")
            user_id = user["id"]
        return conn.execute("INSERT INTO ops_staff (name, title, is_lead, phone, user_id) VALUES (%s, %s, %s, %s, %s) "
                            "RETURNING *", [body.name, body.title, body.is_lead, body.phone, user_id]).fetchone()
    return _json(await _run(request, work), 201)


class RosterIn(BaseModel):
    staff_id: int
    days: list[date] = Field(min_length=1, max_length=62)


async def add_roster(request: Request) -> Response:
    body = await read_model(request, RosterIn)

    def work(conn, p):
        _guard(conn, *body.days)
        if not conn.execute("SELECT 1 FROM ops_staff WHERE id = %s", [body.staff_id]).fetchone():
            raise InvalidInput(f"staff_id: no staff member {body.staff_id}", field="staff_id")
        n = conn.execute("INSERT INTO ops_roster (staff_id, day) SELECT %s, unnest(%s::date[]) ON CONFLICT DO NOTHING",
                         [body.staff_id, body.days]).rowcount
        return {"staff_id": body.staff_id, "added": n}
    return _json(await _run(request, work), 201)


class AttendanceIn(BaseModel):
    action: Literal["sign_in", "sign_out"]
    staff_id: int | None = None          # default: the staff member linked to the caller's login
    at: datetime | None = None           # default: now
    note: str = Field("", max_length=500)


async def attendance(request: Request) -> Response:
    body = await read_model(request, AttendanceIn)

    def work(conn, p):
        at = _check_time(p, body.at, "at")
        if body.staff_id is None:
            staff = conn.execute("SELECT id FROM ops_staff WHERE user_id = %s AND active", [p.user_id]).fetchone()
            if staff is None:
                raise Conflict("your login is not linked to an on-site staff member; give staff_id", field="staff_id")
            staff_id = staff["id"]
        else:
            staff_id = body.staff_id
            if not conn.execute("SELECT 1 FROM ops_staff WHERE id = %s", [staff_id]).fetchone():
                raise InvalidInput(f"staff_id: no staff member {staff_id}", field="staff_id")
        day = at.astimezone(service.LOCAL).date()
        _guard(conn, day)
        if body.action == "sign_in":
            row = conn.execute("INSERT INTO ops_attendance (staff_id, day, sign_in_at, note, recorded_by) "
                               "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (staff_id, day) DO NOTHING RETURNING *",
                               [staff_id, day, at, body.note, p.user]).fetchone()
            if row is None:
                raise Conflict(f"already signed in on {day}", field="action")
            return row
        row = conn.execute("UPDATE ops_attendance SET sign_out_at = %s WHERE staff_id = %s AND day = %s "
                           "AND sign_in_at <= %s RETURNING *", [at, staff_id, day, at]).fetchone()
        if row is None:
            raise Conflict(f"not signed in on {day}", field="action")
        return row
    return _json(await _run(request, work), 201)


class SpotCheckIn(BaseModel):
    checked_at: datetime | None = None
    expected: int | None = Field(None, ge=1, le=100)   # default: the contract's agreed number
    found: int = Field(ge=0, le=100)
    note: str = Field("", max_length=500)


async def add_spot_check(request: Request) -> Response:
    body = await read_model(request, SpotCheckIn)

    def work(conn, p):
        at = _check_time(p, body.checked_at, "checked_at")
        _guard(conn, at)
        return conn.execute(
            "INSERT INTO ops_spot_check (checked_at, expected, found, note, recorded_by) SELECT %s, "
            "coalesce(%s, agreed_on_site), %s, %s, %s FROM assessment_contract RETURNING *",
            [at, body.expected, body.found, body.note, p.user]).fetchone()
    return _json(await _run(request, work), 201)


class LeadAbsenceIn(BaseModel):
    kind: Literal["leave", "replacement"]
    starts_on: date
    ends_on: date
    notified: bool
    note: str = Field("", max_length=500)

    @field_validator("ends_on")
    @classmethod
    def _order(cls, v, info):
        if "starts_on" in info.data and v < info.data["starts_on"]:
            raise ValueError("ends_on is before starts_on")
        return v


async def add_lead_absence(request: Request) -> Response:
    body = await read_model(request, LeadAbsenceIn)

    def work(conn, p):
        _guard(conn, body.starts_on)
        return conn.execute("INSERT INTO ops_lead_absence (kind, starts_on, ends_on, notified, note, recorded_by) "
                            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
                            [body.kind, body.starts_on, body.ends_on, body.notified, body.note, p.user]).fetchone()
    return _json(await _run(request, work), 201)


class CheckIn(BaseModel):
    item_code: str = Field(min_length=1, max_length=40)
    ok: bool
    value: str = Field("", max_length=200)
    note: str = Field("", max_length=500)


class InspectionIn(BaseModel):
    day: date
    items: list[CheckIn] = Field(min_length=1, max_length=50)


async def add_inspection(request: Request) -> Response:
    body = await read_model(request, InspectionIn)

    def work(conn, p):
        if body.day > service.local_today():
            raise InvalidInput("day lies in the future", field="day")
        _guard(conn, body.day)
        manual = {r["code"] for r in conn.execute("SELECT code FROM ops_check_item WHERE active AND source = 'manual'")}
        for i, item in enumerate(body.items):
            if item.item_code not in manual:   # the system's own items are its own checks, not ticks
                raise InvalidInput(f"items.{i}.item_code: {item.item_code!r} is not a manual checklist item",
                                   field=f"items.{i}.item_code")
        return conn.execute(
            "INSERT INTO ops_inspection (day, item_code, ok, value, note, source, recorded_by) "
            "SELECT %s, x.item_code, x.ok, x.value, x.note, 'manual', %s FROM jsonb_to_recordset(%s::jsonb) "
            "AS x(item_code text, ok boolean, value text, note text) "
            "ON CONFLICT (day, item_code) DO UPDATE SET ok = EXCLUDED.ok, value = EXCLUDED.value, note = EXCLUDED.note, "
            "recorded_by = EXCLUDED.recorded_by, recorded_at = now() RETURNING *",
            [body.day, p.user, json.dumps([i.model_dump() for i in body.items])]).fetchall()
    return _json(await _run(request, work), 201)


class FaultIn(BaseModel):
    category: Literal["fault", "security"] = "fault"
    reported_at: datetime | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    description: str = Field(min_length=1, max_length=1000)
    cause: str = Field("", max_length=1000)


class FaultPatch(BaseModel):
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    cause: str | None = Field(None, max_length=1000)


async def add_fault(request: Request) -> Response:
    body = await read_model(request, FaultIn)

    def work(conn, p):
        reported = _check_time(p, body.reported_at, "reported_at")
        for name in ("responded_at", "resolved_at"):
            value = _aware(getattr(body, name), name)
            if value is not None and value < reported:
                raise InvalidInput(f"{name} is before reported_at", field=name)
        _guard(conn, reported)
        return conn.execute("INSERT INTO ops_fault (category, reported_at, responded_at, resolved_at, description, cause, "
                            "recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
                            [body.category, reported, body.responded_at, body.resolved_at, body.description, body.cause,
                             p.user]).fetchone()
    return _json(await _run(request, work), 201)


async def update_fault(request: Request) -> Response:
    body = await read_model(request, FaultPatch)
    fault_id = request.path_params["id"]

    def work(conn, p):
        fault = conn.execute("SELECT * FROM ops_fault WHERE id = %s FOR UPDATE", [fault_id]).fetchone()
        if fault is None:
            raise NotFound(f"no fault record {fault_id}", field="id")
        _guard(conn, fault["reported_at"])
        changes = {}
        for name in ("responded_at", "resolved_at"):
            value = getattr(body, name)
            if value is not None:
                value = _check_time(p, value, name)
                if value < fault["reported_at"]:
                    raise InvalidInput(f"{name} is before reported_at", field=name)
                changes[name] = value
        if body.cause is not None:
            changes["cause"] = body.cause
        if not changes:
            raise InvalidInput("nothing to change: give responded_at, resolved_at or cause", field="body")
        return conn.execute("UPDATE ops_fault SET responded_at = coalesce(%(responded_at)s, responded_at), "
                            "resolved_at = coalesce(%(resolved_at)s, resolved_at), cause = coalesce(%(cause)s, cause) "
                            "WHERE id = %(id)s RETURNING *",
                            {"responded_at": None, "resolved_at": None, "cause": None, **changes, "id": fault_id}).fetchone()
    return _json(await _run(request, work))


class ReportIn(BaseModel):
    kind: Literal["weekly", "monthly"]
    period_start: date
    submitted_at: datetime | None = None   # the evaluator may enter a paper report's time
    note: str = Field("", max_length=500)


async def add_report(request: Request) -> Response:
    body = await read_model(request, ReportIn)
    if body.kind == "weekly" and body.period_start.isoweekday() != 1:
        raise InvalidInput("period_start of a weekly report is a Monday", field="period_start")
    if body.kind == "monthly" and body.period_start.day != 1:
        raise InvalidInput("period_start of a monthly report is the first of the month", field="period_start")

    def work(conn, p):
        at = _check_time(p, body.submitted_at, "submitted_at")
        return conn.execute("INSERT INTO ops_report (kind, period_start, submitted_at, note, recorded_by) "
                            "VALUES (%s, %s, %s, %s, %s) RETURNING *",
                            [body.kind, body.period_start, at, body.note, p.user]).fetchone()
    return _json(await _run(request, work), 201)


routes = [
    Route("/assessment/config", get_config, methods=["GET"]),
    Route("/assessment/months", list_months, methods=["GET"]),
    Route("/assessment/months/{month}", get_month, methods=["GET"]),
    Route("/assessment/months/{month}/compute", compute_month, methods=["POST"]),
    Route("/assessment/months/{month}/sign", sign_month, methods=["POST"]),
    Route("/assessment/months/{month}/reassess", reassess_month, methods=["POST"]),
    Route("/assessment/months/{month}/records", month_records, methods=["GET"]),
    Route("/assessment/months/{month}/report", month_report, methods=["GET"]),
    Route("/assessment/events", add_event, methods=["POST"]),
    Route("/assessment/events/{id:int}/decision", decide_event, methods=["POST"]),
    Route("/assessment/staff", staff, methods=["GET", "POST"]),
    Route("/assessment/roster", add_roster, methods=["POST"]),
    Route("/assessment/attendance", attendance, methods=["POST"]),
    Route("/assessment/spot-checks", add_spot_check, methods=["POST"]),
    Route("/assessment/lead-absences", add_lead_absence, methods=["POST"]),
    Route("/assessment/inspections", add_inspection, methods=["POST"]),
    Route("/assessment/faults", add_fault, methods=["POST"]),
    Route("/assessment/faults/{id:int}", update_fault, methods=["PATCH"]),
    Route("/assessment/reports", add_report, methods=["POST"]),
]
