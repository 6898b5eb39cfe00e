"""Workflows (流程) as data: definitions in YAML/JSON, validated, versioned, selected by rule.

A definition names its states (open or closed, with a time limit per category and urgency in
working minutes/hours/days) and its transitions (action, from, to, roles, required fields, a guard
in the safe expression language of `expr.py`, effects on the case, `auto` steps taken by the system).
`validate()` runs the JSON Schema and then the graph checks — every state reachable from an initial
state, a closed state reachable from every state, no unknown targets — and reports every problem with
the place it sits (`transitions[4].to`). Versions live in the `workflow` table; a case keeps the
version it started on; one version per workflow is active for new cases.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from psycopg.types.json import Jsonb

from civicgrid.cases.calendar import parse_duration
from civicgrid.cases.expr import Guard, GuardError
from civicgrid.cases.roles import ROLES
from civicgrid.errors import Conflict, InvalidInput, NotFound

SHIPPED_DIR = Path(__file__).with_name("workflows")
ANY_OPEN = "*"
DEFAULT_WORKFLOW = "standard"   # when no selection rule matches (the shipped rules have a catch-all)

# Case columns an effect may change; everything else is the engine's business.
EFFECT_FIELDS = {"filed_at", "dispatched_at", "department_code", "duplicate_of", "postpone_pending",
                 "urge_count", "supervise_count", "rework_count", "deadline_at", "self_handled"}
FIELD_TYPES = ("string", "duration", "datetime", "department", "case", "integer", "number")

_duration = {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(m|min|h|d|wd)\s*$"}
_code = {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["code", "name", "initial", "states", "transitions"],
    "additionalProperties": False,
    "properties": {
        "code": _code,
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string"},
        "initial": {
            "type": "object", "required": ["default"], "additionalProperties": False,
            "properties": {"default": _code,
                           "by_channel": {"type": "object", "additionalProperties": _code}},
        },
        "intake": {
            "type": "object", "additionalProperties": False,
            "properties": {"photos": {"type": "object", "additionalProperties": False, "properties": {
                r: {"type": "integer", "minimum": 0, "maximum": 20} for r in ("photo", "before", "after", "snapshot")}}},
        },
        "states": {
            "type": "object", "minProperties": 2,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{1,39}$"},
            "additionalProperties": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "closed": {"type": "boolean"},
                    "time_limit": {
                        "type": "object", "additionalProperties": False,
                        "properties": {
                            "default": _duration,
                            "rules": {"type": "array", "items": {
                                "type": "object", "required": ["limit"], "additionalProperties": False,
                                "properties": {"category": {"type": "string", "pattern": "^[0-9]{2,5}$"},
                                               "urgency": {"type": "string"}, "limit": _duration}}},
                        },
                    },
                },
            },
        },
        "transitions": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["action", "from", "roles"], "additionalProperties": False,
                "properties": {
                    "action": _code,
                    "name": {"type": "string"},
                    "from": {"oneOf": [{"const": ANY_OPEN}, {"type": "array", "minItems": 1, "items": _code}]},
                    "to": {"oneOf": [_code, {"type": "null"}]},
                    "roles": {"type": "array", "minItems": 1, "items": {"enum": sorted(ROLES)}},
                    "require": {"type": "array", "items": {"enum": ["comment", "photos"]}},
                    "min_photos": {"type": "integer", "minimum": 1, "maximum": 20},
                    # the form captures where the caller stands (the phone's GPS): sent if it can, or a must
                    "position": {"enum": ["optional", "required"]},
                    "fields": {"type": "object", "additionalProperties": {
                        "type": "object", "additionalProperties": False,
                        "properties": {"required": {"type": "boolean"}, "type": {"enum": list(FIELD_TYPES)},
                                       "enum": {"type": "array", "minItems": 1}, "label": {"type": "string"},
                                       # the Chinese names of the enum's values, for the action's form
                                       "names": {"type": "object", "additionalProperties": {"type": "string"}}}}},
                    "guard": {"type": "string", "minLength": 1, "maxLength": 500},
                    "auto": {"type": "boolean"},
                    "effects": {"type": "array", "items": {
                        "type": "object", "additionalProperties": False,
                        "properties": {"stamp": {"enum": sorted(EFFECT_FIELDS)},
                                       "copy": {"enum": sorted(EFFECT_FIELDS)}, "from": {"type": "string"},
                                       "inc": {"enum": sorted(EFFECT_FIELDS)},
                                       "set": {"enum": sorted(EFFECT_FIELDS)}, "value": {},
                                       "deadline": {"enum": ["step"]},
                                       "locate": {"const": True},
                                       "extend_deadline": {"type": "string"}},
                        "minProperties": 1}},
                },
            },
        },
    },
}
_validator = jsonschema.Draft202012Validator(SCHEMA)


class WorkflowInvalid(InvalidInput):
    """Every problem of a definition, each with the place it sits."""

    def __init__(self, errors: list[dict]):
        first = errors[0]
        super().__init__(f"workflow definition invalid at {first['path']}: {first['message']}"
                         + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""), field=first["path"])
        self.errors = errors

    def to_json(self) -> dict:
        return {**super().to_json(), "errors": self.errors}

    def located(self, text: str) -> "WorkflowInvalid":
        """Add the line and column (1-based) of each error's place in the YAML/JSON `text` it came from."""
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            return self
        for error in self.errors:
            mark = _mark_of(root, error["path"])
            if mark is not None and "line" not in error:
                error["line"], error["column"] = mark.line + 1, mark.column + 1
        return self


_PATH_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def _mark_of(node, path: str):
    """The start of the deepest node of `path` (`transitions[3].roles[0]`) that the text has: the key's
    mark for a mapping entry (its line is where the reader looks), the item's for a list item."""
    if node is None:
        return None
    mark = node.start_mark
    if path == "(root)":
        return mark
    for index, key in _PATH_PART.findall(path):
        if index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
            mark = node.start_mark
        elif key and isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if entry is None:
                break
            mark, node = entry[0].start_mark, entry[1]
        else:
            break
    return mark


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


@dataclass
class Transition:
    index: int
    action: str
    name: str
    sources: set[str]
    target: str | None
    roles: set[str]
    require: set[str]
    min_photos: int
    position: str | None
    fields: dict[str, dict]
    guard: Guard | None
    auto: bool
    effects: list[dict]


@dataclass
class Workflow:
    code: str
    version: int
    name: str
    definition: dict
    states: dict[str, dict]
    transitions: list[Transition] = field(default_factory=list)

    def state_name(self, state: str) -> str:
        return self.states.get(state, {}).get("name", state)

    def is_closed(self, state: str) -> bool:
        return bool(self.states.get(state, {}).get("closed"))

    def initial_state(self, channel: str) -> str:
        init = self.definition["initial"]
        return init.get("by_channel", {}).get(channel, init["default"])

    def intake_photos(self) -> dict[str, int]:
        return self.definition.get("intake", {}).get("photos", {})

    def candidates(self, state: str, action: str) -> list[Transition]:
        return [t for t in self.transitions if t.action == action and state in t.sources]

    def has_action(self, action: str) -> bool:
        return any(t.action == action for t in self.transitions)

    def auto_transitions(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if t.auto and state in t.sources]

    def actions_for(self, state: str, roles) -> list[dict]:
        roles = {roles} if isinstance(roles, str) else set(roles)
        seen, out = set(), []
        for t in self.transitions:
            if state in t.sources and roles & set(t.roles) and not t.auto and t.action not in seen:
                seen.add(t.action)
                out.append({"action": t.action, "name": t.name, "to": t.target})
        return out

    def states_for_role(self, role: str) -> list[str]:
        return sorted({s for t in self.transitions if role in t.roles and not t.auto for s in t.sources})

    def time_limit(self, state: str, category_code: str | None, urgency: str | None) -> tuple[float, str] | None:
        """Most specific rule wins: longest category prefix, then a matching urgency over none."""
        spec = self.states.get(state, {}).get("time_limit")
        if not spec:
            return None
        best, best_key = spec.get("default"), (-1, -1)
        for rule in spec.get("rules", []):
            cat, urg = rule.get("category"), rule.get("urgency")
            if cat and not (category_code or "").startswith(cat):
                continue
            if urg and urg != urgency:
                continue
            key = (len(cat or ""), 1 if urg else 0)
            if key > best_key:
                best, best_key = rule["limit"], key
        return parse_duration(best) if best else None


def compile_definition(definition: Any, version: int = 0) -> Workflow:
    """Validate (schema, then graph) and build a Workflow; WorkflowInvalid lists every problem:
    check the schema → check the states → compile the transitions → check the graph."""
    errors = [{"path": _path(e.absolute_path), "message": e.message}
              for e in sorted(_validator.iter_errors(definition), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        raise WorkflowInvalid(errors)
    states: dict[str, dict] = definition["states"]
    initials = _check_states(definition, errors)
    transitions = [_compile_transition(i, t, states, errors) for i, t in enumerate(definition["transitions"])]
    _check_graph(states, initials, transitions, errors)
    if errors:
        raise WorkflowInvalid(errors)
    return Workflow(code=definition["code"], version=version, name=definition["name"],
                    definition=definition, states=states, transitions=transitions)


def _check_states(definition: dict, errors: list[dict]) -> dict[str, str]:
    """A closed state exists, initial states are known, time limits parse; → the initial states by place."""
    states = definition["states"]
    if not any(d.get("closed") for d in states.values()):
        errors.append({"path": "states", "message": "no closed state: a case could never be closed"})
    init = definition["initial"]
    initials = {"initial.default": init["default"],
                **{f"initial.by_channel.{ch}": s for ch, s in init.get("by_channel", {}).items()}}
    for where, s in initials.items():
        if s not in states:
            errors.append({"path": where, "message": f"unknown state {s!r}"})
    for sname, sdef in states.items():
        tl = sdef.get("time_limit") or {}
        limits = [("default", tl.get("default"))] + [(f"rules[{i}].limit", r["limit"])
                                                     for i, r in enumerate(tl.get("rules", []))]
        for where, text in limits:
            if text is None:
                continue
            try:
                parse_duration(text)
            except InvalidInput as exc:
                errors.append({"path": f"states.{sname}.time_limit.{where}", "message": exc.message})
    return initials


def _compile_transition(i: int, t: dict, states: dict[str, dict], errors: list[dict]) -> Transition:
    here = f"transitions[{i}]"
    open_states = {s for s, d in states.items() if not d.get("closed")}
    sources = open_states if t["from"] == ANY_OPEN else set(t["from"])
    for j, s in enumerate([] if t["from"] == ANY_OPEN else t["from"]):
        if s not in states:
            errors.append({"path": f"{here}.from[{j}]", "message": f"unknown state {s!r}"})
    target = t.get("to")
    if target is not None and target not in states:
        errors.append({"path": f"{here}.to", "message": f"unknown target state {target!r}"})
    guard = None
    if "guard" in t:
        try:
            guard = Guard(t["guard"])
        except GuardError as exc:
            errors.append({"path": f"{here}.guard", "message": str(exc)})
    for k, eff in enumerate(t.get("effects", [])):
        if "copy" in eff and "from" not in eff:
            errors.append({"path": f"{here}.effects[{k}]", "message": "copy needs from: <data field>"})
        if "set" in eff and "value" not in eff:
            errors.append({"path": f"{here}.effects[{k}]", "message": "set needs value"})
    if t.get("auto") and "system" not in t["roles"]:
        errors.append({"path": f"{here}.roles", "message": "an auto transition must allow role system"})
    return Transition(
        index=i, action=t["action"], name=t.get("name", t["action"]), sources=set(sources), target=target,
        roles=set(t["roles"]), require=set(t.get("require", [])),
        min_photos=t.get("min_photos", 1), position=t.get("position"), fields=t.get("fields", {}), guard=guard,
        auto=bool(t.get("auto")), effects=t.get("effects", []))


def _check_graph(states: dict[str, dict], initials: dict[str, str], transitions: list[Transition],
                 errors: list[dict]) -> None:
    """Every state reachable from an initial state; a closed state reachable from every state.
    Edges to unknown states were reported already and are skipped."""
    closed_states = {s for s, d in states.items() if d.get("closed")}
    if not closed_states:
        return
    edges: dict[str, set[str]] = {s: set() for s in states}
    for t in transitions:
        for s in t.sources & set(states):
            if (t.target or s) in states:
                edges[s].add(t.target or s)
    seen, todo = set(), [s for s in initials.values() if s in states]
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(edges[s])
    for s in states:
        if s not in seen:
            errors.append({"path": f"states.{s}", "message": f"state {s!r} cannot be reached from an initial state"})
    can_close = set(closed_states)
    changed = True
    while changed:
        changed = False
        for s in states:
            if s not in can_close and edges[s] & can_close:
                can_close.add(s)
                changed = True
    for s in states:
        if s not in can_close:
            errors.append({"path": f"states.{s}", "message": f"no closed state can be reached from state {s!r}"})


def parse_text(text: str) -> Any:
    """YAML or JSON text → a definition (YAML is a superset of JSON)."""
    from civicgrid.inputs import load_yaml

    try:
        return load_yaml(text, "body")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(text)"
        error = {"path": where, "message": f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}"}
        if mark:
            error["line"], error["column"] = mark.line + 1, mark.column + 1
        raise WorkflowInvalid([error]) from None


def shipped_definitions() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SHIPPED_DIR.glob("*.yml"))]


# ---------------------------------------------------------------- storage

ACTIVE_TTL = 2.0  # seconds another process's activation takes to be seen; this process's is seen at once


def install_shipped(conn) -> list[str]:
    """Store the shipped workflows (version 1, active) whose code the database does not hold yet;
    run by `civicgrid db migrate`. Returns the codes installed."""
    existing = {r["code"] for r in conn.execute("SELECT DISTINCT code FROM workflow").fetchall()}
    missing = [d for d in shipped_definitions() if d["code"] not in existing]
    for definition in missing:
        compile_definition(definition)
        conn.execute("INSERT INTO workflow (code, version, name, definition, is_active) "
                     "VALUES (%s, 1, %s, %s, true) ON CONFLICT DO NOTHING",
                     [definition["code"], definition["name"], Jsonb(definition)])
    return [d["code"] for d in missing]


class WorkflowCache:
    """Compiled workflow versions (immutable once stored) and the active version of each code
    (re-read after ACTIVE_TTL). One per app state; a CLI command makes its own."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int], Workflow] = {}
        self._active: tuple[float, dict[str, int]] | None = None
        self._lock = threading.Lock()

    def active_versions(self, conn) -> dict[str, int]:
        hit = self._active
        if hit and time.monotonic() - hit[0] < ACTIVE_TTL:
            return hit[1]
        rows = conn.execute("SELECT code, version FROM workflow WHERE is_active").fetchall()
        versions = {r["code"]: r["version"] for r in rows}
        self._active = (time.monotonic(), versions)
        return versions

    def forget_active(self) -> None:
        self._active = None

    def get(self, conn, code: str, version: int | None = None) -> Workflow:
        if version is None:
            version = self.active_versions(conn).get(code)
            if version is None:
                raise NotFound(f"workflow {code!r} has no active version", field="workflow")
        wf = self._compiled.get((code, version))
        if wf is None:
            row = conn.execute("SELECT definition FROM workflow WHERE code = %s AND version = %s",
                               [code, version]).fetchone()
            if row is None:
                raise NotFound(f"workflow {code!r} version {version} does not exist", field="workflow")
            wf = compile_definition(row["definition"], version)
            with self._lock:
                self._compiled[(code, version)] = wf
        return wf


def store(conn, definition: Any, activate: bool = False, workflows: WorkflowCache | None = None) -> dict:
    """Validate and store a new version of a workflow (its code may be new); optionally activate it."""
    wf = compile_definition(definition)
    # versions of one workflow are numbered without gaps even when two admins save at once
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('workflow:' || %s))", [wf.code])
    version = conn.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM workflow WHERE code = %s",
                           [wf.code]).fetchone()["v"]
    conn.execute("INSERT INTO workflow (code, version, name, definition) VALUES (%s, %s, %s, %s)",
                 [wf.code, version, wf.name, Jsonb(definition)])
    if activate:
        activate_version(conn, wf.code, version, workflows)
    return {"code": wf.code, "version": version, "name": wf.name, "is_active": activate}


def activate_version(conn, code: str, version: int, workflows: WorkflowCache | None = None) -> None:
    if not conn.execute("SELECT 1 FROM workflow WHERE code = %s AND version = %s", [code, version]).fetchone():
        raise NotFound(f"workflow {code!r} version {version} does not exist", field="version")
    conn.execute("UPDATE workflow SET is_active = false WHERE code = %s AND is_active AND version <> %s", [code, version])
    conn.execute("UPDATE workflow SET is_active = true WHERE code = %s AND version = %s", [code, version])
    if workflows is not None:
        workflows.forget_active()


def selected(workflows: WorkflowCache, conn, rule_code: str | None) -> Workflow:
    """The active version of the workflow a selection rule named (sql: workflow_rule_for), as a new case gets it."""
    return workflows.get(conn, rule_code or DEFAULT_WORKFLOW)


def preview(conn, workflows: WorkflowCache, channel: str, category_code: str, self_handled: bool) -> dict:
    """Which rule, workflow, version and first state a new case of this channel and category would get:
    the intake's own selection (workflow_rule_for, then `selected`)."""
    rule = conn.execute("SELECT * FROM workflow_rule_for(%s, %s, %s)", [channel, category_code, self_handled]).fetchone()
    wf = selected(workflows, conn, rule["workflow_code"] if rule else None)
    initial = wf.initial_state(channel)
    return {"rule": rule, "workflow": {"code": wf.code, "version": wf.version, "name": wf.name},
            "initial_state": {"code": initial, "name": wf.state_name(initial)}}


def check_rule_target(conn, workflow_code: str) -> None:
    if not conn.execute("SELECT 1 FROM workflow WHERE code = %s AND is_active", [workflow_code]).fetchone():
        raise Conflict(f"workflow {workflow_code!r} has no active version", field="workflow_code")
