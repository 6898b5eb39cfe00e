"""Action forms (办理表单): what a caller may do to a case now, each with the form its workflow asks for.

`GET /api/cases/{id}/actions` answers from the case's own workflow version: the transitions leaving
the case's state that allow one of the caller's roles, whose guard can hold (a guard on the case
alone is evaluated now; one that reads `data` depends on what the form will send, so it is offered
and the transition decides), each with its fields — the comment, the photos, and the definition's
`fields` with their Chinese labels, types and options. The page builds its forms from this answer
and holds no list of actions or fields of its own.
"""
from __future__ import annotations

from datetime import datetime, timezone

from civicgrid.cases import workflow as wfmod
from civicgrid.cases.cache import CasesCache
from civicgrid.cases.calendar import WorkClock, iso
from civicgrid.cases.engine import ActionIn, _context
from civicgrid.cases.roles import Actor
from civicgrid.errors import NotFound

# a field's label when the definition gives none (the definition's `label` wins)
FIELD_LABELS = {
    "comment": "办理意见", "photos": "照片", "department_code": "处置部门", "deadline_at": "处置时限",
    "extend": "延期时长", "duplicate_of": "合并到案件", "verdict": "结论", "satisfaction": "满意度",
    "lon": "经度", "lat": "纬度", "address": "地址", "position": "现场位置",
}
# choices offered for a duration field (working time; any other duration may be typed)
DURATIONS = [("4h", "4 工作小时"), ("1d", "1 个工作日"), ("2d", "2 个工作日"), ("3d", "3 个工作日"),
             ("5d", "5 个工作日"), ("10d", "10 个工作日")]


def _guard_may_hold(t: wfmod.Transition, ctx: dict) -> bool:
    if t.guard is None:
        return True
    return t.guard(ctx) or "data" in t.guard.text


def _field(conn, name: str, spec: dict, case: dict) -> dict:
    kind = spec.get("type", "string")
    out = {"name": f"data.{name}", "label": spec.get("label") or FIELD_LABELS.get(name, name),
           "type": "select" if "enum" in spec else kind, "required": bool(spec.get("required"))}
    if "enum" in spec:
        names = spec.get("names", {})
        out["options"] = [{"value": v, "label": names.get(str(v), str(v))} for v in spec["enum"]]
    elif kind == "department":
        out["options"] = [{"value": r["code"], "label": r["name"]} for r in conn.execute(
            "SELECT code, name FROM department WHERE active ORDER BY name").fetchall()]
        if case.get("department_code"):   # the department the rules suggested at intake
            out["default"] = case["department_code"]
            out["suggested"] = case["department_code"]
    elif kind == "case":
        out["options"] = [{"value": r["id"], "label": r["case_number"]} for r in conn.execute(
            "SELECT o.id, o.case_number FROM case_duplicate d JOIN cases o ON o.id = d.candidate_id "
            "WHERE d.case_id = %s AND o.duplicate_of IS NULL ORDER BY d.reason, d.distance_m", [case["id"]]).fetchall()]
    elif kind == "duration":
        out["options"] = [{"value": v, "label": label} for v, label in DURATIONS]
    return out


def form(conn, t: wfmod.Transition, case: dict) -> list[dict]:
    """The transition's fields in the order a form shows them: its data fields, photos, the caller's
    position (captured by the page), comment."""
    fields = [_field(conn, name, spec, case) for name, spec in t.fields.items()]
    if "photos" in t.require:
        fields.append({"name": "photos", "label": FIELD_LABELS["photos"], "type": "photos", "required": True,
                       "min": t.min_photos})
    if t.position:
        fields.append({"name": "position", "label": FIELD_LABELS["position"], "type": "position",
                       "required": t.position == "required"})
    fields.append({"name": "comment", "label": FIELD_LABELS["comment"], "type": "text",
                   "required": "comment" in t.require})
    return fields


def offered(conn, wf: wfmod.Workflow, case: dict, actor: Actor) -> list[dict]:
    if case["is_closed"]:
        return []
    ctx = _context(case, ActionIn(version=case["version"]), actor)
    out, seen = [], set()
    for t in wf.transitions:
        if t.auto or t.action in seen or case["state"] not in t.sources or not actor.roles & t.roles:
            continue
        seen.add(t.action)
        # the engine takes the first of the action's transitions the caller's roles allow; its form is the one checked
        allowed = [x for x in wf.candidates(case["state"], t.action) if not x.auto and actor.roles & x.roles]
        role = actor.acting_as({r for x in allowed for r in x.roles}).role
        if not any(_guard_may_hold(x, {**ctx, "role": role}) for x in allowed):
            continue
        target = allowed[0].target
        out.append({"action": t.action, "name": t.name, "to": target,
                    "to_name": wf.state_name(target) if target else None, "role": role,
                    "fields": form(conn, allowed[0], case)})
    return out


def case_actions(conn, case_id: int, actor: Actor, cache: CasesCache) -> dict:
    case = conn.execute("SELECT * FROM cases WHERE id = %s", [case_id]).fetchone()
    if case is None:
        raise NotFound(f"case {case_id} not found", field="id")
    wf = cache.workflows.get(conn, case["workflow"], case["workflow_version"] or 1)
    clock = WorkClock(cache.calendar(conn), datetime.now(timezone.utc))
    return {"id": case["id"], "case_number": case["case_number"], "version": case["version"],
            "workflow": wf.code, "workflow_version": wf.version, "state": case["state"],
            "state_name": wf.state_name(case["state"]), "is_closed": case["is_closed"],
            "step_deadline_at": iso(case["step_deadline_at"]),
            "remaining_work_seconds": None if case["is_closed"] else clock.remaining_seconds(case["step_deadline_at"]),
            "actions": offered(conn, wf, case, actor)}
