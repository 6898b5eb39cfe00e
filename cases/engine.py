"""Transitions (流转): one database transaction each, optimistic concurrency on `cases.version`.

The caller sends the version it saw; the case row is locked (FOR UPDATE) and a different version is
a 409 — so of two people acting on the same case one succeeds and the other is told to reload.
Every change to the case is written into the event's `data.set` as well, so `replay.py` can rebuild
the row from the events alone. Auto transitions (`auto: true`) whose guard holds run right after,
inside the same transaction, as the `system` role.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from civicgrid.cases import workflow as wfmod
from civicgrid.cases.attachments import check_known
from civicgrid.cases.calendar import parse_duration
from civicgrid.cases.intake import _iso, calendar_for, step_times
from civicgrid.cases.roles import Actor
from civicgrid.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_AUTO_STEPS = 5
TRANSITION_SQL = """
WITH ev AS (
    INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, at, comment, data)
    SELECT %(id)s, coalesce(max(seq), 0) + 1, %(action)s, %(from_state)s, %(to_state)s, %(actor)s, %(role)s,
           %(now)s, %(comment)s, %(data)s
    FROM case_event WHERE case_id = %(id)s
    RETURNING seq
),
att AS (
    INSERT INTO case_attachment (case_id, seq, sha256, role)
    SELECT %(id)s, ev.seq, p, 'photo' FROM ev, unnest(%(photos)s::text[]) AS p
),
tm AS (
    INSERT INTO case_timer (case_id, step_seq, kind, due_at)
    SELECT %(id)s, ev.seq, k.kind, k.due FROM ev,
        (VALUES ('warn', %(warn)s::timestamptz), ('overdue', %(deadline)s::timestamptz)) AS k(kind, due)
    WHERE k.due IS NOT NULL
)
UPDATE cases SET {} FROM ev WHERE cases.id = %(id)s RETURNING cases.*
"""


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    comment: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)
    photos: list[str] = Field(default_factory=list, max_length=20)


def parse(payload: dict) -> ActionIn:
    try:
        body = ActionIn.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise InvalidInput(f"{where}: {err['msg']}", field=where) from None
    for s in body.photos:
        if not (len(s) == 64 and all(c in "0123456789abcdef" for c in s)):
            raise InvalidInput("photos are sha256 hex digests of uploaded attachments", field="photos")
    return body


def _check_fields(conn, t: wfmod.Transition, body: ActionIn) -> None:
    if "comment" in t.require and not body.comment:
        raise InvalidInput(f"action {t.action} needs a comment", field="comment")
    if "photos" in t.require and len(body.photos) < t.min_photos:
        raise InvalidInput(f"action {t.action} needs at least {t.min_photos} photo(s)", field="photos")
    for name, spec in t.fields.items():
        value = body.data.get(name)
        if value in (None, ""):
            if spec.get("required"):
                raise InvalidInput(f"action {t.action} needs data.{name}" +
                                   (f" ({spec['label']})" if spec.get("label") else ""), field=f"data.{name}")
            continue
        if "enum" in spec and value not in spec["enum"]:
            raise InvalidInput(f"data.{name} must be one of {spec['enum']}", field=f"data.{name}")
        kind = spec.get("type", "string")
        if kind == "duration":
            parse_duration(value, f"data.{name}")
        elif kind == "datetime":
            try:
                if not isinstance(value, str):
                    raise ValueError
                dt = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"data.{name} must be an ISO 8601 date-time", field=f"data.{name}") from None
            if dt.tzinfo is None:
                raise InvalidInput(f"data.{name} needs a time zone", field=f"data.{name}")
        elif kind == "department":
            if not isinstance(value, str) or not conn.execute("SELECT 1 FROM department WHERE code = %s AND active", [str(value)]).fetchone():
                raise InvalidInput(f"unknown department {value}", field=f"data.{name}")
        elif kind == "case":
            if not isinstance(value, int):
                raise InvalidInput(f"data.{name} must be a case id", field=f"data.{name}")
        elif kind == "integer" and not isinstance(value, int):
            raise InvalidInput(f"data.{name} must be an integer", field=f"data.{name}")
        elif kind == "number" and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise InvalidInput(f"data.{name} must be a number", field=f"data.{name}")


def _locate(conn, case: dict, data: dict) -> dict:
    """定位: give a case without a location (a hotline address nobody could find) its place, grids,
    officer and department, exactly as intake would have."""
    from civicgrid.cases.intake import ENRICH_SQL

    lon, lat, address = data.get("lon"), data.get("lat"), data.get("address")
    if (lon is None or lat is None) and not address:
        raise InvalidInput("locate needs data.lon and data.lat, or data.address", field="data.lon")
    row = conn.execute(ENRICH_SQL, {
        "component_id": None, "camera_code": None, "address": address, "lon": lon, "lat": lat,
        "standard": case["standard"], "kind": case["category_kind"], "code": case["category_code"],
        "channel": case["channel"], "self_handled": case["self_handled"], "urgency": case["urgency"],
        "reporter_officer_code": None}).fetchone()
    if row["lon"] is None:
        raise InvalidInput(f"address {address!r} not found among POIs and communities", field="data.address")
    if row["town_code"] is None:
        raise InvalidInput("the location lies outside the town", field="data.lon")
    return {"geom": f"SRID=4490;POINT({row['lon']} {row['lat']})", "needs_location": False,
            "unit_grid_code": row["unit_grid_code"], "community_code": row["community_code"],
            "responsibility_grid_code": row["responsibility_grid_code"], "officer_id": row["officer_id"],
            "department_code": row["department_code"]}


def _context(case: dict, body: ActionIn, actor: Actor) -> dict:
    return {"case": {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in case.items() if k != "geom"},
            "data": body.data, "role": actor.role, "actor": actor.user, "photos": body.photos,
            "channel": case.get("channel")}


def act(conn, case_id: int, action: str, body: ActionIn, actor: Actor) -> dict:
    """Apply one action to a case inside the caller's transaction; returns the changed case row."""
    wfmod.ensure_shipped(conn)
    case = conn.execute("SELECT * FROM cases WHERE id = %s FOR UPDATE", [case_id]).fetchone()
    if case is None:
        raise NotFound(f"case {case_id} not found", field="id")
    if body.version != case["version"]:
        raise Conflict(f"case {case['case_number']} changed meanwhile: you sent version {body.version}, "
                       f"it is at version {case['version']}; reload and try again", field="version")
    wf = wfmod.get_workflow(conn, case["workflow"], case["workflow_version"] or 1)
    if case["is_closed"]:
        raise Conflict(f"case {case['case_number']} is closed ({wf.state_name(case['state'])}); "
                       f"no action {action!r} possible", field="state")
    case = _apply(conn, wf, case, action, body, actor, auto=False)
    for _ in range(MAX_AUTO_STEPS):
        auto = next((t for t in wf.auto_transitions(case["state"])
                     if t.guard is None or t.guard(_context(case, ActionIn(version=case["version"]), Actor("system", "system")))), None)
        if auto is None or case["is_closed"]:
            break
        case = _apply(conn, wf, case, auto.action, ActionIn(version=case["version"], comment="自动流转"),
                      Actor("system", "system"), auto=True, transition=auto)
    return case


def _apply(conn, wf: wfmod.Workflow, case: dict, action: str, body: ActionIn, actor: Actor,
           auto: bool, transition: wfmod.Transition | None = None) -> dict:
    state = case["state"]
    if transition is None:
        candidates = [t for t in wf.candidates(state, action) if not t.auto]
        if not candidates:
            if not wf.has_action(action):
                raise InvalidInput(f"workflow {wf.code} has no action {action!r}", field="action")
            raise Conflict(f"action {action!r} is not possible in state {state} ({wf.state_name(state)})", field="state")
        allowed = [t for t in candidates if actor.roles & set(t.roles)]
        if not allowed:
            roles = sorted({r for t in candidates for r in t.roles})
            raise Forbidden(f"action {action} needs role {' or '.join(roles)}; the caller has "
                            f"{', '.join(sorted(actor.roles))}", field="role")
        actor = actor.acting_as({r for t in allowed for r in t.roles})
        _check_fields(conn, allowed[0], body)
        ctx = _context(case, body, actor)
        transition = next((t for t in allowed if t.guard is None or t.guard(ctx)), None)
        if transition is None:
            raise Conflict(f"action {action} is not allowed now: condition "
                           f"{' / '.join(t.guard.text for t in allowed if t.guard)} does not hold", field="guard")
    check_known(conn, body.photos, "photos")

    now = datetime.now(timezone.utc)
    cal = calendar_for(conn)
    target = transition.target or state
    changes: dict[str, Any] = {}
    if target != state:
        changes.update(state=target, is_closed=wf.is_closed(target))
        changes.update(step_times(cal, wf, target, case["category_code"], case["urgency"], now))
        if wf.is_closed(target):
            changes["closed_at"] = now
    for eff in transition.effects:
        if "stamp" in eff:
            changes[eff["stamp"]] = now
        elif "copy" in eff:
            value = body.data.get(eff["from"])
            if value is not None:
                changes[eff["copy"]] = value
        elif "inc" in eff:
            changes[eff["inc"]] = (case.get(eff["inc"]) or 0) + 1
        elif "set" in eff:
            changes[eff["set"]] = eff["value"]
        elif "deadline" in eff:
            explicit = body.data.get("deadline_at")
            if explicit:
                dl = datetime.fromisoformat(explicit)
                start = changes.get("step_started_at", now)
                total = cal.working_minutes(start, dl)
                changes.update(step_deadline_at=dl, step_warn_at=cal.add(start, total * 0.8) if total else dl)
            changes["deadline_at"] = changes.get("step_deadline_at", case["step_deadline_at"])
        elif "locate" in eff:
            changes.update(_locate(conn, case, body.data))
        elif "extend_deadline" in eff:
            pending = conn.execute(
                "SELECT data->>'extend' AS extend FROM case_event WHERE case_id = %s AND action = 'postpone_request' "
                "ORDER BY seq DESC LIMIT 1", [case["id"]]).fetchone()
            if pending and pending["extend"] and case["step_deadline_at"]:
                minutes = cal.to_minutes(*parse_duration(pending["extend"]))
                new_deadline = cal.add(case["step_deadline_at"], minutes)
                start = case["step_started_at"] or now
                total = cal.working_minutes(start, new_deadline)
                changes.update(step_deadline_at=new_deadline, step_warn_at=cal.add(start, total * 0.8),
                               deadline_at=new_deadline if case["deadline_at"] else case["deadline_at"])
    if changes.get("duplicate_of") is not None:
        dup = int(changes["duplicate_of"])
        if dup == case["id"]:
            raise InvalidInput("a case cannot be a duplicate of itself", field="data.duplicate_of")
        target_case = conn.execute("SELECT duplicate_of FROM cases WHERE id = %s", [dup]).fetchone()
        if target_case is None:
            raise InvalidInput(f"case {dup} does not exist", field="data.duplicate_of")
        if target_case["duplicate_of"] is not None:
            raise InvalidInput(f"case {dup} is itself merged into case {target_case['duplicate_of']}",
                               field="data.duplicate_of")
    if "department_code" in changes and changes["department_code"] is not None:
        if not conn.execute("SELECT 1 FROM department WHERE code = %s", [changes["department_code"]]).fetchone():
            raise InvalidInput(f"unknown department {changes['department_code']}", field="data.department_code")

    data = {**body.data, "set": {k: _iso(v) for k, v in changes.items()}}
    if auto:
        data["auto"] = True
    # column names come from the engine and the schema-checked effect list, never from the request
    assignments = [sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes]
    assignments += [sql.SQL("version = ev.seq"), sql.SQL("updated_at = %(now)s")]
    params = {**changes, "id": case["id"], "now": now, "action": transition.action, "from_state": state,
              "to_state": target, "actor": actor.user, "role": actor.role, "comment": body.comment,
              "data": Jsonb(data), "photos": list(dict.fromkeys(body.photos)),
              "warn": changes.get("step_warn_at"), "deadline": changes.get("step_deadline_at")}
    # event, photos, the new step's timers and the case row in one statement
    updated = conn.execute(sql.SQL(TRANSITION_SQL).format(sql.SQL(", ").join(assignments)), params).fetchone()
    return updated
