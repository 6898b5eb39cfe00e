"""Collaboration views (处置协同): a case with its timeline, each department's queue, each officer's
tasks, the overdue list and the leaders' overview. Public callers only ever see public fields."""
from __future__ import annotations

from datetime import datetime

from psycopg import sql

from civicgrid.cases.cache import CasesCache
from civicgrid.cases.roles import Actor
from civicgrid.errors import NotFound

SLA = """CASE WHEN c.is_closed OR c.step_deadline_at IS NULL THEN NULL
              WHEN now() >= c.step_deadline_at THEN 'red'
              WHEN now() >= coalesce(c.step_warn_at, c.step_deadline_at) THEN 'yellow'
              ELSE 'green' END"""
PUBLIC_FIELDS = ("id", "case_number", "channel", "standard", "category_kind", "category_code", "category_name",
                 "urgency", "workflow", "state", "state_name", "is_closed", "community_code", "unit_grid_code",
                 "department_code", "reported_at", "closed_at", "step_deadline_at", "sla_color", "lon", "lat",
                 "duplicate_of")
LIST_COLUMNS = f"""c.id, c.case_number, c.channel, c.standard, c.category_kind, c.category_code, k.name AS category_name,
    c.urgency, c.workflow, c.workflow_version, c.state, c.is_closed, c.community_code, c.unit_grid_code,
    c.responsibility_grid_code, c.officer_id, c.department_code, c.reported_at, c.filed_at, c.dispatched_at,
    c.deadline_at, c.closed_at, c.step_started_at, c.step_warn_at, c.step_deadline_at, c.needs_location,
    c.urge_count, c.supervise_count, c.rework_count, c.postpone_pending, c.duplicate_of, c.version,
    c.address, c.description, c.component_id, c.camera_code, c.external_id, c.reporter_officer_id,
    c.reporter_name, c.reporter_phone, c.reported_standard, c.reported_code, c.self_handled,
    ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, {SLA} AS sla_color"""
FROM = "FROM cases c LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)"


def jsonable(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _decorate(conn, row: dict, actor: Actor, cache: CasesCache) -> dict:
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
    row = conn.execute(f"""SELECT {LIST_COLUMNS},
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.candidate_id, 'case_number', o.case_number,
                    'state', o.state, 'is_closed', o.is_closed, 'distance_m', d.distance_m, 'reason', d.reason)
                    ORDER BY d.reason, d.distance_m), '[]')
             FROM case_duplicate d JOIN cases o ON o.id = d.candidate_id WHERE d.case_id = c.id) AS duplicates,
            ARRAY(SELECT m.id FROM cases m WHERE m.duplicate_of = c.id ORDER BY m.id) AS merged_here
        {FROM} WHERE c.id = %s""", [case_id]).fetchone()
    if row is None:
        raise NotFound(f"case {case_id} not found", field="id")
    duplicates, merged = row.pop("duplicates"), row.pop("merged_here")
    out = _decorate(conn, row, actor, cache)
    out["duplicates"], out["merged_here"] = duplicates, merged
    if actor.is_staff and with_timeline:
        out["timeline"] = timeline(conn, case_id)
    return out


def timeline(conn, case_id: int) -> list[dict]:
    rows = conn.execute(
        """SELECT e.seq, e.action, e.from_state, e.to_state, e.actor, e.actor_role, e.at, e.comment, e.data - 'set' AS data,
                  coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role,
                            'url', '/api/attachments/' || a.sha256) ORDER BY a.role, a.sha256)
                            FROM case_attachment a WHERE a.case_id = e.case_id AND a.seq = e.seq), '[]') AS attachments
           FROM case_event e WHERE e.case_id = %s ORDER BY e.seq""", [case_id]).fetchall()
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
    q = sql.SQL("SELECT " + LIST_COLUMNS + " " + FROM + " WHERE {} ORDER BY " + order + " LIMIT %(limit)s").format(where)
    return [_decorate(conn, r, actor, cache) for r in conn.execute(q, {**params, "limit": limit}).fetchall()]


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


def list_cases(conn, actor: Actor, cache: CasesCache, state: str | None, department: str | None,
               channel: str | None, is_closed: bool | None, limit: int) -> list[dict]:
    clauses, params = [sql.SQL("true")], {}
    for col, val in (("state", state), ("department_code", department), ("channel", channel), ("is_closed", is_closed)):
        if val is not None:
            clauses.append(sql.SQL("c.{} = {}").format(sql.Identifier(col), sql.Placeholder(col)))
            params[col] = val
    return _listing(conn, sql.SQL(" AND ").join(clauses), params, actor, cache, limit, order="c.id DESC")


def overview(conn) -> dict:
    """The leaders' overview (领导总览): counts by state, department and category; overdue; today."""
    q = lambda text, p=None: [jsonable(r) for r in conn.execute(text, p or {}).fetchall()]  # noqa: E731
    return {
        "by_state": q("SELECT workflow, state, count(*) AS n FROM cases GROUP BY 1, 2 ORDER BY 1, 2"),
        "by_department": q("""SELECT c.department_code, d.name, count(*) FILTER (WHERE NOT c.is_closed) AS open,
                                  count(*) FILTER (WHERE NOT c.is_closed AND c.step_deadline_at < now()) AS overdue,
                                  count(*) FILTER (WHERE c.is_closed) AS closed
                              FROM cases c LEFT JOIN department d ON d.code = c.department_code
                              GROUP BY 1, 2 ORDER BY open DESC NULLS LAST"""),
        "by_category": q(f"""SELECT c.category_code, k.name AS category_name, count(*) AS n,
                                 count(*) FILTER (WHERE NOT c.is_closed) AS open {FROM}
                             GROUP BY 1, 2 ORDER BY n DESC LIMIT 30"""),
        "sla": q(f"SELECT {SLA} AS color, count(*) AS n FROM cases c WHERE NOT c.is_closed GROUP BY 1 ORDER BY 1"),
        "overdue": conn.execute("SELECT count(*) AS n FROM cases WHERE NOT is_closed AND step_deadline_at < now()").fetchone()["n"],
        "today": conn.execute("""SELECT
                count(*) FILTER (WHERE reported_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                                      AT TIME ZONE 'Asia/Shanghai') AS intake,
                count(*) FILTER (WHERE closed_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                                    AT TIME ZONE 'Asia/Shanghai') AS closed
            FROM cases""").fetchone(),
        "urged": conn.execute("SELECT coalesce(sum(urge_count), 0) AS urge, coalesce(sum(supervise_count), 0) AS supervise "
                              "FROM cases WHERE NOT is_closed").fetchone(),
    }
