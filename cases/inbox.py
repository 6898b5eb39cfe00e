"""Inboxes (待办): per role of the caller, the open cases it may act on now, with badge counts.

A role's box follows the workflows (inboxes.yml only names the boxes). PostgreSQL counts the open
cases the caller sees (row security) in groups that the boxes treat alike (sql/inbox.sql): the same
(workflow, version, state), the same marks (overdue, supervised, postpone_pending) and the same
values of the case fields the workflows' guards read. The compiled workflows then decide per group
— a few dozen, however many cases — which boxes and actions it is in (a 延期批准 without a pending
request is none), and one more statement reads one page of the chosen box's groups, ordered, with
the case list's columns. No step looks at the cases one by one in Python.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml
from psycopg import sql
from psycopg.types.json import Jsonb

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


def _columns(conn) -> set[str]:
    global _CASE_COLUMNS
    if _CASE_COLUMNS is None:
        _CASE_COLUMNS = {r["attname"] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'cases'::regclass AND attnum > 0 AND NOT attisdropped")}
    return _CASE_COLUMNS


_CASE_COLUMNS: set[str] | None = None
# never part of a group's doc: what the guards may not see of a case in a box
HIDDEN = {"geom", "description", "reporter_name", "reporter_phone"}


def _doc(conn, pairs: dict) -> sql.Composable:
    """The case fields that decide whether an action is offered (the guards of the manual transitions
    that read the case alone: one reading `data` is offered anyway), as one jsonb object per case."""
    fields: set[str] = set()
    for wf, _ in pairs.values():
        for t in wf.transitions:
            if t.guard is not None and not t.auto and not _guard_may_hold(t, {}):
                read = t.guard.case_fields()
                fields |= _columns(conn) if read is None else read
    names = sorted((fields & _columns(conn)) - HIDDEN)
    if not names:
        return sql.SQL("'{}'::jsonb")
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, c.{}").format(sql.Literal(n), sql.Identifier(n)) for n in names))


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
    key = sql.SQL(views.fragment("inbox_key.sql")).format(doc=_doc(conn, pairs))
    where = sql.SQL(views.fragment("inbox_filter.sql"))
    args = {"workflows": [k[0] for k in keys], "versions": [k[1] for k in keys], "states": [k[2] for k in keys],
            "sla": _param(params, "sla", SLA), "channel": params.get("channel") or None,
            "urgency": params.get("urgency") or None, "q": q}
    groups = conn.execute(sql.SQL(load_sql(PACKAGE, "inbox.sql")).format(key=key, filter=where), args).fetchall()
    counts = {role: {"count": 0, "overdue": 0} for role in mine}
    chosen, total, action_counts, action_names = {}, 0, {}, {}
    want = params.get("action") or None
    background = set(_config()["background"])
    memo: dict = {}
    for g in groups:
        workflow, version, state, overdue, supervised, postpone_pending, doc = g["key"]
        marks = {"overdue": overdue, "supervised": supervised, "postpone_pending": postpone_pending}
        wf, roles = pairs[(workflow, version, state)]
        for role in roles:
            only = defined[role].get("only")
            if only and not any(marks[m] for m in only):
                continue
            offered = _offered(wf, {**doc, "state": state}, role, actor, memo)
            # a box with marks keeps every marked case it may act on; the others need real work
            if not any(only or t.action not in background for t in offered):
                continue
            counts[role]["count"] += g["n"]
            counts[role]["overdue"] += g["n"] if overdue else 0
            if role != box:
                continue
            names = [t.action for t in offered]
            for t in offered:
                action_counts[t.action] = action_counts.get(t.action, 0) + g["n"]
                action_names.setdefault(t.action, t.name)
            if want is None or want in names:
                chosen[_key_text(g["key"])] = (g["key"], names)
                total += g["n"]
    cases = _page(conn, actor, cache, chosen, key, where, args, ORDERS[order], limit, offset)
    return {
        "box": box,
        "boxes": [{"box": role, "name": defined[role]["name"], **counts[role]} for role in mine],
        "actions": [{"action": a, "name": action_names[a], "count": n} for a, n in action_counts.items()],
        "total": total, "offset": offset, "count": len(cases), "cases": cases,
    }


def _key_text(key: list) -> str:
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


def _page(conn, actor: Actor, cache: CasesCache, chosen: dict, key: sql.Composable, where: sql.Composable,
          args: dict, order: str, limit: int, offset: int) -> list[dict]:
    """One page of the chosen groups' cases in the box's order, each with the actions it is in the box for."""
    if not chosen:
        return []
    page = conn.execute(sql.SQL(load_sql(PACKAGE, "inbox_page.sql")).format(key=key, filter=where, order=sql.SQL(order)),
                        {**args, "keys": [Jsonb(k) for k, _ in chosen.values()], "limit": limit, "offset": offset}).fetchall()
    if not page:
        return []
    rows = {r["id"]: r for r in views._listing(conn, sql.SQL("c.id = ANY(%(ids)s)"), {"ids": [p["id"] for p in page]},
                                                 actor, cache, len(page), order="c.id")}
    out = []
    for p in page:
        row = rows.get(p["id"])
        if row is not None:
            row["inbox_actions"] = chosen[_key_text(p["key"])][1]
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
