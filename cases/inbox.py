"""Inboxes (待办): per role of the caller, the open cases it may act on now, with badge counts.

A role's box follows the workflows (inboxes.yml only names the boxes): PostgreSQL picks the open
cases whose (workflow, version, state) has a transition for one of the caller's roles, visible to
the caller (row security), filtered and ordered (sql/inbox.sql); the compiled workflows then drop
the cases whose guards on the case rule every such action out (a 延期批准 without a pending request)
and count each box and each action. One page of the chosen box is read with the case list's columns.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from psycopg import sql

from civicgrid.cases import views
from civicgrid.cases.cache import CasesCache
from civicgrid.cases.forms import _guard_may_hold
from civicgrid.cases.roles import Actor
from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput

PACKAGE = "civicgrid.cases"
MARKS = ("overdue", "supervised", "postpone_pending")
ORDERS = {"deadline": "c.step_deadline_at NULLS LAST, c.id", "reported": "c.reported_at, c.id",
          "-reported": "c.reported_at DESC, c.id DESC",
          "urgency": "array_position(ARRAY['critical','urgent','normal'], c.urgency) NULLS LAST, c.step_deadline_at NULLS LAST, c.id"}
SLA = ("red", "yellow", "green")


@cache
def _config() -> dict:
    return yaml.safe_load(Path(__file__).with_name("inboxes.yml").read_text(encoding="utf-8"))


def boxes() -> dict[str, dict]:
    return _config()["boxes"]


def _pairs(conn, roles: set[str], cache: CasesCache) -> dict[tuple[str, int, str], list]:
    """(workflow, version, state) → the workflow and the caller's roles acting there, from every stored version."""
    out: dict[tuple[str, int, str], list] = {}
    for r in conn.execute("SELECT code, version FROM workflow").fetchall():
        wf = cache.workflows.get(conn, r["code"], r["version"])
        for role in roles:
            for state in wf.states_for_role(role):
                out.setdefault((wf.code, wf.version, state), [wf, set()])[1].add(role)
    return out


def _offered(wf, doc: dict, role: str, actor: Actor, memo: dict) -> list:
    """The actions `role` may take on the case now (its guards on the case hold)."""
    key = (wf.code, wf.version, doc["state"], role)
    candidates = memo.get(key)
    if candidates is None:   # per workflow version, state and role: the same for every case there
        seen, candidates = set(), []
        for t in wf.transitions:
            if not t.auto and role in t.roles and doc["state"] in t.sources and t.action not in seen:
                seen.add(t.action)
                candidates.append(t)
        memo[key] = candidates
    if all(t.guard is None for t in candidates):
        return candidates
    # the case as JSON already (to_jsonb): the guards' context without building a request
    ctx = {"case": doc, "data": {}, "role": role, "actor": actor.user, "photos": [], "channel": doc.get("channel")}
    return [t for t in candidates if _guard_may_hold(t, ctx)]


def _param(params, name: str, allowed=None, default=None):
    value = params.get(name) or default
    if value is not None and allowed is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def inbox(conn, actor: Actor, cache: CasesCache, params) -> dict:
    """GET /api/inbox?box=&action=&sla=&channel=&urgency=&q=&order=&limit=&offset="""
    defined = boxes()
    mine = [role for role in defined if role in actor.roles]
    box = _param(params, "box", mine, mine[0] if mine else None)
    order = _param(params, "order", ORDERS, "deadline")
    limit, offset = _int(params, "limit", 50, 1, 500), _int(params, "offset", 0, 0, 1_000_000)
    q = params.get("q") or None
    if q is not None and len(q) > 100:
        raise InvalidInput("q is at most 100 characters", field="q")
    pairs = _pairs(conn, set(mine), cache)
    keys = list(pairs)
    statement = sql.SQL(load_sql(PACKAGE, "inbox.sql")).format(order=sql.SQL(ORDERS[order]))
    rows = conn.execute(statement, {
        "workflows": [k[0] for k in keys], "versions": [k[1] for k in keys], "states": [k[2] for k in keys],
        "sla": _param(params, "sla", SLA), "channel": params.get("channel") or None,
        "urgency": params.get("urgency") or None, "q": q}).fetchall()
    counts = {role: {"count": 0, "overdue": 0} for role in mine}
    in_box, action_counts, action_names = [], {}, {}
    want = params.get("action") or None
    background = set(_config()["background"])
    memo: dict = {}
    for row in rows:
        wf, roles = pairs[(row["workflow"], row["workflow_version"], row["state"])]
        for role in roles:
            only = defined[role].get("only")
            if only and not any(row[m] for m in only):
                continue
            offered = _offered(wf, row["doc"], role, actor, memo)
            # a box with marks keeps every marked case it may act on; the others need real work
            if not any(only or t.action not in background for t in offered):
                continue
            counts[role]["count"] += 1
            counts[role]["overdue"] += bool(row["overdue"])
            if role != box:
                continue
            names = [t.action for t in offered]
            for t in offered:
                action_counts[t.action] = action_counts.get(t.action, 0) + 1
                action_names.setdefault(t.action, t.name)
            if want is None or want in names:
                in_box.append((row["id"], names))
    page = in_box[offset:offset + limit]
    cases = _page(conn, actor, cache, page)
    return {
        "box": box,
        "boxes": [{"box": role, "name": defined[role]["name"], **counts[role]} for role in mine],
        "actions": [{"action": a, "name": action_names[a], "count": n} for a, n in action_counts.items()],
        "total": len(in_box), "offset": offset, "count": len(cases), "cases": cases,
    }


def _page(conn, actor: Actor, cache: CasesCache, page: list[tuple[int, list[str]]]) -> list[dict]:
    if not page:
        return []
    rows = views._listing(conn, sql.SQL("c.id = ANY(%(ids)s)"), {"ids": [p[0] for p in page]}, actor, cache,
                          len(page), order="c.id")
    by_id = {r["id"]: r for r in rows}
    out = []
    for case_id, names in page:
        row = by_id.get(case_id)
        if row is not None:
            row["inbox_actions"] = names
            out.append(row)
    return out


def _int(params, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name)
    return value
