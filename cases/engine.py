"""Transitions (流转): one database transaction each, optimistic concurrency on `cases.version`.

The caller sends the version it saw; the case row is locked (FOR UPDATE) and a different version is
a 409 — so of two people acting on the same case one succeeds and the other is told to reload.
Every change to the case is written into the event's `data.set` as well, so `replay.py` can rebuild
the row from the events alone. Auto transitions (`auto: true`) whose guard holds run right after,
inside the same transaction, as the `system` role.

A transition: choose it (state, roles, required fields, guard) → compute the changes (the new
state's step times, then the transition's effects in order) → check them → write event, photos,
timers and row in one statement (sql/transition.sql). Effects are the functions in EFFECTS, one
per effect kind of the workflow schema (workflow.SCHEMA): a new effect is one function here plus
one schema entry there.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from civicgrid.cases import workflow as wfmod
from civicgrid.cases.attachments import check_known, is_sha256
from civicgrid.cases.cache import CasesCache
from civicgrid.cases.calendar import WorkCalendar, deadline_from, iso, parse_duration, step_times
from civicgrid.cases.roles import Actor
from civicgrid.db import load_sql
from civicgrid.errors import Conflict, Forbidden, InvalidInput, NotFound
from civicgrid.inputs import parse_model

PACKAGE = "civicgrid.cases"
MAX_AUTO_STEPS = 5
SYSTEM = Actor("system", "system")


class PositionIn(BaseModel):
    """Where the caller stood when acting (the phone's GPS, CGCS2000/WGS84 lon/lat) and how sure it is."""
    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1)
    comment: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)
    photos: list[str] = Field(default_factory=list, max_length=20)
    position: PositionIn | None = None


def parse(payload: dict) -> ActionIn:
    body = parse_model(ActionIn, payload)
    if not all(is_sha256(s) for s in body.photos):
        raise InvalidInput("photos are sha256 hex digests of uploaded attachments", field="photos")
    return body


# ---------------------------------------------------------------- the request's data fields

def _duration(conn, name: str, value) -> None:
    parse_duration(value, f"data.{name}")


def _datetime(conn, name: str, value) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"data.{name} must be an ISO 8601 date-time", field=f"data.{name}") from None
    if dt.tzinfo is None:
        raise InvalidInput(f"data.{name} needs a time zone", field=f"data.{name}")


def _department(conn, name: str, value) -> None:
    if not isinstance(value, str) or not conn.execute(
            "SELECT 1 FROM department WHERE code = %s AND active", [value]).fetchone():
        raise InvalidInput(f"unknown department {value}", field=f"data.{name}")


def _case(conn, name: str, value) -> None:
    if not isinstance(value, int):
        raise InvalidInput(f"data.{name} must be a case id", field=f"data.{name}")


def _integer(conn, name: str, value) -> None:
    if not isinstance(value, int):
        raise InvalidInput(f"data.{name} must be an integer", field=f"data.{name}")


def _number(conn, name: str, value) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise InvalidInput(f"data.{name} must be a number", field=f"data.{name}")


# field type (workflow.FIELD_TYPES) → its check; `string` takes anything
FIELD_CHECKS: dict[str, Callable] = {"duration": _duration, "datetime": _datetime, "department": _department,
                                     "case": _case, "integer": _integer, "number": _number}


def check_fields(conn, t: wfmod.Transition, body: ActionIn) -> None:
    if "comment" in t.require and not body.comment:
        raise InvalidInput(f"action {t.action} needs a comment", field="comment")
    if "photos" in t.require and len(body.photos) < t.min_photos:
        raise InvalidInput(f"action {t.action} needs at least {t.min_photos} photo(s)", field="photos")
    if t.position == "required" and body.position is None:
        raise InvalidInput(f"action {t.action} needs the position where it was taken (现场位置)", field="position")
    for name, spec in t.fields.items():
        value = body.data.get(name)
        if value in (None, ""):
            if spec.get("required"):
                raise InvalidInput(f"action {t.action} needs data.{name}" +
                                   (f" ({spec['label']})" if spec.get("label") else ""), field=f"data.{name}")
            continue
        if "enum" in spec and value not in spec["enum"]:
            raise InvalidInput(f"data.{name} must be one of {spec['enum']}", field=f"data.{name}")
        check = FIELD_CHECKS.get(spec.get("type", "string"))
        if check is not None:
            check(conn, name, value)


# ---------------------------------------------------------------- effects

@dataclass
class Step:
    """What an effect sees: the case as it was, the request, and the changes made so far."""

    conn: Any
    case: dict
    body: ActionIn
    cal: WorkCalendar
    now: datetime
    changes: dict


def stamp(step: Step, eff: dict) -> dict:
    return {eff["stamp"]: step.now}


def copy(step: Step, eff: dict) -> dict:
    value = step.body.data.get(eff["from"])
    return {} if value is None else {eff["copy"]: value}


def inc(step: Step, eff: dict) -> dict:
    return {eff["inc"]: (step.case.get(eff["inc"]) or 0) + 1}


def set_value(step: Step, eff: dict) -> dict:
    return {eff["set"]: eff["value"]}


def deadline(step: Step, eff: dict) -> dict:
    """The case's deadline (处置时限) becomes the new step's, or the request's data.deadline_at."""
    out = {}
    explicit = step.body.data.get("deadline_at")
    if explicit:
        start = step.changes.get("step_started_at", step.now)
        out = deadline_from(step.cal, start, datetime.fromisoformat(explicit))
    out["deadline_at"] = out.get("step_deadline_at", step.changes.get("step_deadline_at", step.case["step_deadline_at"]))
    return out


def extend_deadline(step: Step, eff: dict) -> dict:
    """延期: the step's deadline moves by the `extend` of the case's last postponement request."""
    case = step.case
    pending = step.conn.execute(
        "SELECT data->>'extend' AS extend FROM case_event WHERE case_id = %s AND action = 'postpone_request' "
        "ORDER BY seq DESC LIMIT 1", [case["id"]]).fetchone()
    if not (pending and pending["extend"] and case["step_deadline_at"]):
        return {}
    new_deadline = step.cal.add(case["step_deadline_at"], step.cal.to_minutes(*parse_duration(pending["extend"])))
    out = deadline_from(step.cal, case["step_started_at"] or step.now, new_deadline)
    out["deadline_at"] = new_deadline if case["deadline_at"] else case["deadline_at"]
    return out


def locate(step: Step, eff: dict) -> dict:
    """定位: give a case without a location (a hotline address nobody could find) its place, grids,
    officer and department, exactly as intake would have."""
    case, data = step.case, step.body.data
    lon, lat, address = data.get("lon"), data.get("lat"), data.get("address")
    if (lon is None or lat is None) and not address:
        raise InvalidInput("locate needs data.lon and data.lat, or data.address", field="data.lon")
    row = step.conn.execute(load_sql(PACKAGE, "enrich.sql"), {
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


# effect kind (the key naming it in a definition's `effects`) → its function
EFFECTS: dict[str, Callable[[Step, dict], dict]] = {
    "stamp": stamp, "copy": copy, "inc": inc, "set": set_value, "deadline": deadline,
    "extend_deadline": extend_deadline, "locate": locate,
}


def effect_kind(eff: dict) -> str:
    return next(kind for kind in EFFECTS if kind in eff)


# ---------------------------------------------------------------- a transition

def _context(case: dict, body: ActionIn, actor: Actor) -> dict:
    return {"case": {k: iso(v) for k, v in case.items() if k != "geom"},
            "data": body.data, "role": actor.role, "actor": actor.user, "photos": body.photos,
            "channel": case.get("channel")}


def act(conn, case_id: int, action: str, body: ActionIn, actor: Actor, cache: CasesCache | None = None) -> dict:
    """Apply one action to a case inside the caller's transaction; returns the changed case row."""
    cache = cache or CasesCache()
    case = conn.execute("SELECT * FROM cases WHERE id = %s FOR UPDATE", [case_id]).fetchone()
    if case is None:
        raise NotFound(f"case {case_id} not found", field="id")
    if body.version != case["version"]:
        raise Conflict(f"case {case['case_number']} changed meanwhile: you sent version {body.version}, "
                       f"it is at version {case['version']}; reload and try again", field="version")
    wf = cache.workflows.get(conn, case["workflow"], case["workflow_version"] or 1)
    if case["is_closed"]:
        raise Conflict(f"case {case['case_number']} is closed ({wf.state_name(case['state'])}); "
                       f"no action {action!r} possible", field="state")
    transition, actor = choose(conn, wf, case, action, body, actor)
    case = apply(conn, wf, case, transition, body, actor, cache.calendar(conn))
    for _ in range(MAX_AUTO_STEPS):
        if case["is_closed"]:
            break
        probe = _context(case, ActionIn(version=case["version"]), SYSTEM)
        auto = next((t for t in wf.auto_transitions(case["state"]) if t.guard is None or t.guard(probe)), None)
        if auto is None:
            break
        case = apply(conn, wf, case, auto, ActionIn(version=case["version"], comment="自动流转"), SYSTEM,
                     cache.calendar(conn), auto=True)
    return case


def choose(conn, wf: wfmod.Workflow, case: dict, action: str, body: ActionIn,
           actor: Actor) -> tuple[wfmod.Transition, Actor]:
    """The transition `action` takes from the case's state for this caller (acting in the role it
    needs): state, then roles, then the request's fields, then the first guard that holds."""
    state = case["state"]
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
    check_fields(conn, allowed[0], body)
    ctx = _context(case, body, actor)
    transition = next((t for t in allowed if t.guard is None or t.guard(ctx)), None)
    if transition is None:
        raise Conflict(f"action {action} is not allowed now: condition "
                       f"{' / '.join(t.guard.text for t in allowed if t.guard)} does not hold", field="guard")
    return transition, actor


def changes_of(step: Step, wf: wfmod.Workflow, transition: wfmod.Transition) -> dict:
    """The columns the transition changes: the new state and its step times, then each effect."""
    case, state = step.case, step.case["state"]
    target = transition.target or state
    if target != state:
        step.changes.update(state=target, is_closed=wf.is_closed(target))
        step.changes.update(step_times(step.cal, wf, target, case["category_code"], case["urgency"], step.now))
        if wf.is_closed(target):
            step.changes["closed_at"] = step.now
    for eff in transition.effects:
        step.changes.update(EFFECTS[effect_kind(eff)](step, eff))
    return step.changes


def check_changes(conn, case: dict, changes: dict) -> None:
    """What the effects copied from the request must point at something real."""
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
    if changes.get("department_code") is not None:
        if not conn.execute("SELECT 1 FROM department WHERE code = %s", [changes["department_code"]]).fetchone():
            raise InvalidInput(f"unknown department {changes['department_code']}", field="data.department_code")


def apply(conn, wf: wfmod.Workflow, case: dict, transition: wfmod.Transition, body: ActionIn, actor: Actor,
          cal: WorkCalendar, auto: bool = False) -> dict:
    check_known(conn, body.photos, "photos")
    step = Step(conn, case, body, cal, datetime.now(timezone.utc), {})
    changes = changes_of(step, wf, transition)
    check_changes(conn, case, changes)
    return write(conn, case, transition, body, actor, changes, step.now, auto)


def write(conn, case: dict, transition: wfmod.Transition, body: ActionIn, actor: Actor, changes: dict,
          now: datetime, auto: bool) -> dict:
    """Event, photos, the new step's timers and the case row in one statement."""
    data = {**body.data, "set": {k: iso(v) for k, v in changes.items()}}
    if auto:
        data["auto"] = True
    # column names come from the engine and the schema-checked effect list, never from the request
    assignments = [sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes]
    assignments += [sql.SQL("version = ev.seq"), sql.SQL("updated_at = %(now)s")]
    params = {**changes, "id": case["id"], "now": now, "action": transition.action, "from_state": case["state"],
              "to_state": transition.target or case["state"], "actor": actor.user, "role": actor.role,
              "comment": body.comment, "data": Jsonb(data), "photos": list(dict.fromkeys(body.photos)),
              "warn": changes.get("step_warn_at"), "deadline": changes.get("step_deadline_at"),
              "pos_lon": body.position.lon if body.position else None,
              "pos_lat": body.position.lat if body.position else None,
              "pos_accuracy": body.position.accuracy_m if body.position else None}
    statement = sql.SQL(load_sql(PACKAGE, "transition.sql")).format(sql.SQL(", ").join(assignments))
    return conn.execute(statement, params).fetchone()
