"""Collaboration views (处置协同): a case with its timeline, each department's queue, each officer's
tasks, the overdue list and the leaders' overview. Public callers only ever see public fields."""
from __future__ import annotations

from datetime import datetime, timezone

from psycopg import sql

from civicgrid.cases.cache import CasesCache
from civicgrid.cases.calendar import WorkClock
from civicgrid.cases.roles import Actor
from civicgrid.db import load_sql
from civicgrid.errors import NotFound

PUBLIC_FIELDS = ("id", "case_number", "channel", "standard", "category_kind", "category_code", "category_name",
                 "urgency", "workflow", "state", "state_name", "is_closed", "community_code", "unit_grid_code",
                 "department_code", "reported_at", "closed_at", "step_deadline_at", "sla_color", "lon", "lat",
                 "duplicate_of", "remaining_work_seconds")
PACKAGE = "civicgrid.cases"


def _case_list(where: sql.Composable, order: str, extra: str = "") -> sql.Composable:
    return sql.SQL(load_sql(PACKAGE, "case_list.sql")).format(extra=sql.SQL(extra), where=where, order=sql.SQL(order))


def fragment(name: str) -> str:
    """A part of a statement kept in sql/ (a select-list entry, a WHERE) without its comment lines."""
    return "\n".join(line for line in load_sql(PACKAGE, name).splitlines() if not line.startswith("--"))


def _links() -> str:
    """case_links.sql: it lands inside case_list.sql's select list."""
    return fragment("case_links.sql")


def jsonable(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _clock(conn, cache: CasesCache) -> WorkClock:
    return WorkClock(cache.calendar(conn), datetime.now(timezone.utc))


def _decorate(conn, row: dict, actor: Actor, cache: CasesCache, clock: WorkClock | None = None) -> dict:
    # 剩余时限 in working time (the calendar's holidays respected), so pages need no calendar of their own
    row["remaining_work_seconds"] = None if row["is_closed"] or clock is None else \
        clock.remaining_seconds(row["step_deadline_at"])
    try:
        wf = cache.workflows.get(conn, row["workflow"], row["workflow_version"] or 1)
        row["state_name"] = wf.state_name(row["state"])
        row["actions"] = [] if row["is_closed"] else wf.actions_for(row["state"], actor.roles)
    except NotFound:
        row["state_name"], row["actions"] = row["state"], []
    if not actor.is_staff:
        row = {k: row.get(k) for k in PUBLIC_FIELDS}
    return jsonable(row)


def case_detail(conn, case_id: int, actor: Actor, cache: CasesCache, with_timeline: bool = True) -> dict:
    query = _case_list(sql.SQL("c.id = %(id)s"), "c.id", _links())
    row = conn.execute(query, {"id": case_id, "limit": 1}).fetchone()
    if row is None:
        raise NotFound(f"case {case_id} not found", field="id")
    duplicates, merged, photos = row.pop("duplicates"), row.pop("merged_here"), row.pop("photos")
    out = _decorate(conn, row, actor, cache, _clock(conn, cache))
    out["duplicates"], out["merged_here"] = duplicates, merged
    if actor.is_staff:
        out["photos"] = photos
    if actor.is_staff and with_timeline:
        out["timeline"] = timeline(conn, case_id)
    if actor.is_staff:
        from civicgrid.exchange.outbox import delivery_state

        out["district"] = delivery_state(conn, case_id)   # 推送区平台: what the district has received
    return out


def timeline(conn, case_id: int) -> list[dict]:
    rows = conn.execute(load_sql(PACKAGE, "timeline.sql"), {"id": case_id}).fetchall()
    if not rows and not conn.execute("SELECT 1 FROM cases WHERE id = %s", [case_id]).fetchone():
        raise NotFound(f"case {case_id} not found", field="id")
    return [jsonable(r) for r in rows]


def _states_for(conn, role: str, cache: CasesCache) -> list[tuple[str, str]]:
    """(workflow, state) pairs in which `role` has something to do, from every stored version."""
    pairs = []
    for r in conn.execute("SELECT code, version FROM workflow").fetchall():
        wf = cache.workflows.get(conn, r["code"], r["version"])
        pairs += [(wf.code, s) for s in wf.states_for_role(role)]
    return sorted(set(pairs))


def _listing(conn, where: sql.Composable, params: dict, actor: Actor, cache: CasesCache, limit: int,
             order: str = "c.step_deadline_at NULLS LAST, c.id") -> list[dict]:
    rows = conn.execute(_case_list(where, order), {**params, "limit": limit}).fetchall()
    clock = _clock(conn, cache)
    return [_decorate(conn, r, actor, cache, clock) for r in rows]


def department_queue(conn, department_code: str, actor: Actor, cache: CasesCache, limit: int = 200) -> list[dict]:
    pairs = _states_for(conn, "department_handler", cache)
    return _listing(conn, sql.SQL("NOT c.is_closed AND c.department_code = %(d)s "
                                  "AND (c.workflow, c.state) IN (SELECT * FROM unnest(%(w)s::text[], %(s)s::text[]))"),
                    {"d": department_code, "w": [p[0] for p in pairs], "s": [p[1] for p in pairs]}, actor, cache, limit)


def officer_tasks(conn, officer_id: int, actor: Actor, cache: CasesCache, limit: int = 200) -> list[dict]:
    pairs = _states_for(conn, "grid_officer", cache)
    return _listing(conn, sql.SQL("NOT c.is_closed AND c.officer_id = %(o)s "
                                  "AND (c.workflow, c.state) IN (SELECT * FROM unnest(%(w)s::text[], %(s)s::text[]))"),
                    {"o": officer_id, "w": [p[0] for p in pairs], "s": [p[1] for p in pairs]}, actor, cache, limit)


def overdue(conn, actor: Actor, cache: CasesCache, limit: int = 500) -> list[dict]:
    return _listing(conn, sql.SQL("NOT c.is_closed AND c.step_deadline_at < now()"), {}, actor, cache, limit)


def list_cases(conn, actor: Actor, cache: CasesCache, where: sql.Composable, params: dict, order: str,
               limit: int, offset: int = 0) -> tuple[list[dict], int]:
    """One page of the filtered list (cases/query.py) and how many cases match in all."""
    total = conn.execute(sql.SQL("SELECT count(*) AS n FROM cases c WHERE {}").format(where), params).fetchone()["n"]
    if offset:   # PostgreSQL takes OFFSET before LIMIT too; case_list.sql stays the shared template
        order = f"{order} OFFSET %(offset)s"
        params = {**params, "offset": offset}
    query = _case_list(where, order)
    rows = conn.execute(query, {**params, "limit": limit}).fetchall()
    clock = _clock(conn, cache)
    return [_decorate(conn, r, actor, cache, clock) for r in rows], total


def overview(conn) -> dict:
    """The leaders' overview (领导总览): counts by state, department and category; overdue; today."""
    def rows(query, params=None):
        return [jsonable(r) for r in conn.execute(query, params or {}).fetchall()]

    return {
        "by_state": rows("SELECT workflow, state, count(*) AS n FROM cases GROUP BY 1, 2 ORDER BY 1, 2"),
        "by_department": rows(load_sql(PACKAGE, "overview_by_department.sql")),
        "by_category": rows(load_sql(PACKAGE, "overview_by_category.sql")),
        "sla": rows("SELECT case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) AS color, count(*) AS n "
                    "FROM cases c WHERE NOT c.is_closed GROUP BY 1 ORDER BY 1"),
        "overdue": conn.execute("SELECT count(*) AS n FROM cases WHERE NOT is_closed AND step_deadline_at < now()").fetchone()["n"],
        "today": conn.execute(load_sql(PACKAGE, "overview_today.sql")).fetchone(),
        "urged": conn.execute("SELECT coalesce(sum(urge_count), 0) AS urge, coalesce(sum(supervise_count), 0) AS supervise "
                              "FROM cases WHERE NOT is_closed").fetchone(),
    }
