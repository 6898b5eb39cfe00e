"""The leaders' dashboard (领导驾驶舱) and the supervision board (督办中心) of the web app.

GET /api/dashboard?date=YYYY-MM-DD&days=30&top=10 → the local day's milestones (intake, filed,
dispatched, handled, closed), open and overdue cases, the window's cases (`days` ending with that
day) by channel, category (top-N), community and department, a 30-day daily trend (intake and
closed) and the on-time closure rate. Every number carries `filter`: the GET /api/cases query
parameters that list exactly the cases it counts, so the page drills down without knowing SQL.
GET /api/supervision/workload → per department: open, due today, overdue, on-time rate, each with
its filter too.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from civicgrid.cases.api import _run, _with_conn
from civicgrid.cases.query import LOCAL
from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput
from civicgrid.http import query_int
from civicgrid.state import app_state

PACKAGE = "civicgrid.cases"
TREND_DAYS = 30
# Which workflow states count as each milestone on the dashboard (立案 is `accepted` in the hotline
# workflow). A case counts once per day for each milestone it reached, whatever the action.
MILESTONES = {
    "filed": ["filed", "accepted"],
    "dispatched": ["dispatched"],
    "handled": ["handled"],
    "closed": ["closed"],
}


def _day(request: Request) -> date:
    raw = request.query_params.get("date")
    if raw in (None, ""):
        return datetime.now(LOCAL).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("date must be a day, e.g. 2026-11-20", field="date") from None


def _check(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]}", field=unknown[0])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL)


def _entered(milestone: str, start: date, end: date) -> dict:
    return {"entered": ",".join(MILESTONES[milestone]), "entered_from": start.isoformat(),
            "entered_to": end.isoformat()}


def dashboard(conn, day: date, days: int, top: int) -> dict:
    end = day + timedelta(days=1)
    start = end - timedelta(days=days)
    trend_start = end - timedelta(days=TREND_DAYS)
    row = conn.execute(load_sql(PACKAGE, "dashboard.sql"), {
        "d0": _midnight(day), "d1": _midnight(end), "w0": _midnight(start), "t0": _midnight(trend_start),
        "milestones": Jsonb(MILESTONES), "closed_states": MILESTONES["closed"], "top": top}).fetchone()
    today = {"from": day.isoformat(), "to": end.isoformat()}
    window = {"from": start.isoformat(), "to": end.isoformat()}
    counts = row["today"]
    out = {
        "date": day.isoformat(), "days": days, "window": window,
        "today": [{"key": "intake", "n": counts.get("intake", 0), "filter": today}]
        + [{"key": m, "n": counts.get(m, 0), "filter": _entered(m, day, end)} for m in MILESTONES],
        "overdue": {"n": row["overdue"], "filter": {"overdue": "true"}},
        "open": {"n": row["open"], "filter": {"is_closed": "false"}},
    }
    for key, param in (("by_channel", "channel"), ("by_category", "category"), ("by_community", "community"),
                       ("by_department", "department")):
        out[key] = [{**r, "filter": {**window, param: r["code"]}} for r in row[key]]
    trend = []
    for r in row["trend"]:
        d = date.fromisoformat(r["day"])
        nxt = (d + timedelta(days=1)).isoformat()
        trend.append({"day": r["day"], "intake": r["intake"], "closed": r["closed"],
                      "filter": {"intake": {"from": r["day"], "to": nxt}, "closed": _entered("closed", d, d + timedelta(days=1))}})
    out["trend"] = trend
    closed, on_time = row["on_time"]["closed"], row["on_time"]["on_time"]
    base = {**window, "state": ",".join(MILESTONES["closed"])}
    out["on_time"] = {"closed": closed, "on_time": on_time, "rate": round(on_time / closed, 4) if closed else None,
                      "filter": {**base, "on_time": "true"}, "late_filter": {**base, "on_time": "false"}}
    return out


def workload(conn, days: int) -> dict:
    today = datetime.now(LOCAL).date()
    end = today + timedelta(days=1)
    start = end - timedelta(days=days)
    rows = conn.execute(load_sql(PACKAGE, "department_workload.sql"), {
        "d1": _midnight(end), "w0": _midnight(start), "closed_states": MILESTONES["closed"]}).fetchall()
    out = []
    for r in rows:
        dept = {"department": r["code"]}
        closed = _entered("closed", start, end) | dept
        out.append({**r, "rate": round(r["on_time"] / r["closed"], 4) if r["closed"] else None, "filter": {
            "open": {**dept, "is_closed": "false"},
            "due_today": {**dept, "is_closed": "false", "overdue": "false", "due_to": end.isoformat()},
            "overdue": {**dept, "overdue": "true"},
            "closed": closed, "on_time": {**closed, "on_time": "true"}}})
    return {"date": today.isoformat(), "days": days, "departments": out}


async def get_dashboard(request: Request) -> JSONResponse:
    _check(request, {"date", "days", "top"})
    day = _day(request)
    days = query_int(request, "days", 30, 1, 366)
    top = query_int(request, "top", 10, 1, 50)
    return JSONResponse(await _run(_with_conn, app_state(request), dashboard, day, days, top),
                        headers={"Cache-Control": "no-store"})


async def get_workload(request: Request) -> JSONResponse:
    _check(request, {"days"})
    days = query_int(request, "days", 30, 1, 366)
    return JSONResponse(await _run(_with_conn, app_state(request), workload, days), headers={"Cache-Control": "no-store"})


routes = [
    Route("/dashboard", get_dashboard, methods=["GET"]),
    Route("/supervision/workload", get_workload, methods=["GET"]),
]
