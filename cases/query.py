"""The case list's filters (事件查询): GET /api/cases query parameters → one WHERE over alias `c`.

Lists are comma-separated (`state=filed,dispatched`); `category` takes code prefixes (`01` is every
class of major 01, `01001` one class); `from`/`to` bound `reported_at` ([from, to), ISO 8601 with a
time zone, or a date taken as local midnight); `overdue=true` is an open case past its step's time
limit; `sla` the time-limit colour (case_sla_color). `entered` (states) with `entered_from`/`entered_to`: cases
that moved into one of those states in that period (their timeline says so); `on_time=true|false`: closed
cases closed by / after their deadline; `due_to`: the current step's time limit falls before then.
Every value travels as a query parameter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from psycopg import sql
from starlette.datastructures import QueryParams

from civicgrid.errors import InvalidInput

LOCAL = ZoneInfo("Asia/Shanghai")
CODE = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
CATEGORY = re.compile(r"^[0-9]{2,5}$")
AREA = re.compile(r"^[0-9A-Za-z_\-]{1,40}$")
SLA = ("green", "yellow", "red")

# list parameter → column; each value must match the pattern
LISTS = {
    "state": ("c.state", CODE),
    "department": ("c.department_code", CODE),
    "channel": ("c.channel", CODE),
    "urgency": ("c.urgency", CODE),
    "community": ("c.community_code", AREA),
    "unit_grid": ("c.unit_grid_code", AREA),
}
ORDERS = {
    "-id": "c.id DESC", "id": "c.id",
    "-reported_at": "c.reported_at DESC, c.id DESC", "reported_at": "c.reported_at, c.id",
    "step_deadline_at": "c.step_deadline_at NULLS LAST, c.id", "-step_deadline_at": "c.step_deadline_at DESC NULLS LAST, c.id",
}
PARAMS = {*LISTS, "category", "from", "to", "overdue", "sla", "is_closed", "limit", "offset", "order",
          "entered", "entered_from", "entered_to", "on_time", "due_to"}


@dataclass
class CaseFilter:
    clauses: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    order: str = "c.id DESC"

    def where(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.clauses) if self.clauses else sql.SQL("true")


def _list(q: QueryParams, name: str, pattern: re.Pattern) -> list[str] | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values or len(values) > 100 or not all(pattern.match(v) for v in values):
        raise InvalidInput(f"{name} must be a comma-separated list of codes", field=name)
    return values


def _bool(q: QueryParams, name: str) -> bool | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    if raw not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return raw == "true"


def _instant(q: QueryParams, name: str) -> datetime | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), LOCAL)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date or date-time", field=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone, e.g. 2026-01-01T00:00:00+08:00", field=name)
    return value


def parse(q: QueryParams) -> CaseFilter:
    unknown = sorted(set(q) - PARAMS)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]}", field=unknown[0])
    f = CaseFilter()
    for name, (column, pattern) in LISTS.items():
        values = _list(q, name, pattern)
        if values is not None:
            f.clauses.append(sql.SQL(column + " = ANY({})").format(sql.Placeholder(name)))
            f.params[name] = values
    categories = _list(q, "category", CATEGORY)
    if categories is not None:
        f.clauses.append(sql.SQL("c.category_code LIKE ANY(%(category)s)"))
        f.params["category"] = [c + "%" for c in categories]
    start, end = _instant(q, "from"), _instant(q, "to")
    if start and end and end <= start:
        raise InvalidInput("to must be after from", field="to")
    if start:
        f.clauses.append(sql.SQL("c.reported_at >= %(from)s"))
        f.params["from"] = start
    if end:
        f.clauses.append(sql.SQL("c.reported_at < %(to)s"))
        f.params["to"] = end
    closed = _bool(q, "is_closed")
    if closed is not None:
        f.clauses.append(sql.SQL("c.is_closed = %(is_closed)s"))
        f.params["is_closed"] = closed
    overdue = _bool(q, "overdue")
    if overdue is not None:
        test = "(NOT c.is_closed AND c.step_deadline_at < now())"
        f.clauses.append(sql.SQL(test if overdue else f"NOT coalesce({test}, false)"))
    sla = _list(q, "sla", CODE)
    if sla is not None:
        if not set(sla) <= set(SLA):
            raise InvalidInput("sla must be a list of green, yellow, red", field="sla")
        f.clauses.append(sql.SQL("case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) = ANY(%(sla)s)"))
        f.params["sla"] = sla
    _progress(q, f)
    order = q.get("order")
    if order is not None:
        if order not in ORDERS:
            raise InvalidInput("order must be one of " + ", ".join(ORDERS), field="order")
        f.order = ORDERS[order]
    return f


def _progress(q: QueryParams, f: CaseFilter) -> None:
    """The dashboard's drill-downs: what happened to cases in a period, beside when they were reported."""
    entered = _list(q, "entered", CODE)
    start, end = _instant(q, "entered_from"), _instant(q, "entered_to")
    if (start or end) and entered is None:
        raise InvalidInput("entered_from/entered_to need entered (the states)", field="entered")
    if entered is not None:
        f.clauses.append(sql.SQL(
            "EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.to_state = ANY(%(entered)s)"
            " AND (%(entered_from)s::timestamptz IS NULL OR e.at >= %(entered_from)s)"
            " AND (%(entered_to)s::timestamptz IS NULL OR e.at < %(entered_to)s))"))
        f.params.update(entered=entered, entered_from=start, entered_to=end)
    on_time = _bool(q, "on_time")
    if on_time is not None:
        test = "c.closed_at <= c.deadline_at"
        f.clauses.append(sql.SQL(f"c.is_closed AND c.deadline_at IS NOT NULL AND "
                                 f"{test if on_time else 'NOT (' + test + ')'}"))
    due = _instant(q, "due_to")
    if due is not None:
        f.clauses.append(sql.SQL("c.step_deadline_at < %(due_to)s"))
        f.params["due_to"] = due
