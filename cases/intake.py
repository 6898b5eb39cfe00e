"""Case intake (案件受理) for every channel, in one transaction per case.

patrol (网格员巡查) · public (公众举报, anonymous allowed) · hotline (12345, address located through POIs
and communities or flagged needs_location) · component (部件问题: category and location from the
component) · video (视频巡查: camera → location, snapshot) · district (区平台推送, external ID).
The same Idempotency-Key, or the same channel + external ID, gives one case and the same answer.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Annotated, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from civicgrid.cases import workflow as wfmod
from civicgrid.cases.attachments import check_known
from civicgrid.cases.cache import CasesCache
from civicgrid.cases.calendar import iso, step_times
from civicgrid.cases.catalog import Catalog, Category
from civicgrid.cases.roles import INTAKE_ROLES, Actor, require_role
from civicgrid.db import load_sql
from civicgrid.errors import Conflict, InvalidInput
from civicgrid.inputs import parse_model

PACKAGE = "civicgrid.cases"
UNLOCATED_CHANNELS = ("hotline", "district", "public")   # may enter without a place (needs_location, 待定位)
LOCATION_FIELDS = {"coordinates": "lon", "component": "component_id", "camera": "camera_code"}
PHOTO_FIELDS = {"photo": "photos", "before": "photos_before", "after": "photos_after", "snapshot": "snapshot"}

Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class IntakeIn(BaseModel):
    """An incoming report. Which fields are needed depends on the channel (see `check_channel`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,20}$")]
    category_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,5}$")] | None = None
    category_kind: Literal["matter", "component", "event"] | None = None
    standard: str | None = Field(default=None, max_length=40)
    urgency: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,20}$")] = "normal"
    description: str | None = Field(default=None, max_length=4000)
    address: str | None = Field(default=None, min_length=2, max_length=200)
    lon: float | None = Field(default=None, ge=73, le=136)
    lat: float | None = Field(default=None, ge=3, le=54)
    component_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{16,17}$")] | None = None
    camera_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{2,40}$")] | None = None
    external_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: Annotated[str, StringConstraints(pattern=r"^[0-9+-]{5,20}$")] | None = None
    reporter_officer_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{2,20}$")] | None = None
    self_handled: bool = False
    photos: list[Sha] = Field(default_factory=list, max_length=20)
    photos_before: list[Sha] = Field(default_factory=list, max_length=20)
    photos_after: list[Sha] = Field(default_factory=list, max_length=20)
    snapshot: list[Sha] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _pairs(self):
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat come together")
        return self


def parse(payload: dict) -> IntakeIn:
    return parse_model(IntakeIn, payload)


def check_channel(req: IntakeIn, actor: Actor) -> None:
    ch = req.channel
    if ch not in INTAKE_ROLES:
        raise InvalidInput(f"unknown channel {ch!r}; one of {sorted(INTAKE_ROLES)}", field="channel")
    require_role(actor, INTAKE_ROLES[ch], f"reporting on channel {ch}")
    has_xy = req.lon is not None
    if ch == "patrol" and not has_xy:
        raise InvalidInput("a patrol report needs lon/lat", field="lon")
    if ch == "public" and not (has_xy or req.address):
        raise InvalidInput("a public report needs lon/lat or an address", field="lon")
    if ch == "hotline" and not (req.address or has_xy):
        raise InvalidInput("a 12345 transfer needs the caller's address", field="address")
    if ch == "component" and not req.component_id:
        raise InvalidInput("a component problem needs component_id", field="component_id")
    if ch == "video" and not req.camera_code:
        raise InvalidInput("a video-patrol case needs camera_code", field="camera_code")
    if ch == "district" and not req.external_id:
        raise InvalidInput("a district push needs external_id", field="external_id")
    if ch == "district" and not (has_xy or req.address):
        raise InvalidInput("a district push needs lon/lat or an address", field="lon")
    if ch != "component" and not req.category_code:
        raise InvalidInput("category_code is required", field="category_code")
    if req.self_handled and ch != "patrol":
        raise InvalidInput("only a patrol report can be self-handled", field="self_handled")


def idempotency_key(req: IntakeIn, header_key: str | None) -> str | None:
    if header_key:
        if not 1 <= len(header_key) <= 200:
            raise InvalidInput("Idempotency-Key must be 1–200 characters", field="Idempotency-Key")
        return "key:" + header_key
    if req.external_id:
        return f"ext:{req.channel}:{req.external_id}"
    return None


def _replay_answer(conn, key: str, request_hash: str) -> dict | None:
    row = conn.execute("SELECT request_hash, response FROM intake_idempotency WHERE key = %s", [key]).fetchone()
    if row is None:
        return None
    if key.startswith("key:") and row["request_hash"] != request_hash:
        raise Conflict("this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return row["response"]


def intake(pool, payload: dict, actor: Actor, header_key: str | None = None,
           cache: CasesCache | None = None) -> tuple[dict, bool]:
    """Create a case; returns (answer, created). A repeated key returns the first answer, created False."""
    req = parse(payload)
    check_channel(req, actor)
    key = idempotency_key(req, header_key)
    request_hash = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    if key:
        with pool.connection() as conn:
            answer = _replay_answer(conn, key, request_hash)
        if answer is not None:
            return answer, False
    try:
        with pool.connection() as conn:
            return _intake_tx(conn, req, actor, key, request_hash, cache), True
    except psycopg.errors.UniqueViolation:
        # a concurrent twin won the race; its answer is committed now
        if key:
            with pool.connection() as conn:
                answer = _replay_answer(conn, key, request_hash)
            if answer is not None:
                return answer, False
        raise Conflict("a case with this external_id already exists on this channel", field="external_id") from None


def _intake_tx(conn, req: IntakeIn, actor: Actor, key: str | None, request_hash: str,
               cache: CasesCache | None = None) -> dict:
    """resolve the category → locate → check the photos → build the row → insert → answer."""
    cache = cache or CasesCache()
    category, reported = resolve_category(conn, req, cache.catalog(conn))
    place = locate(conn, req, actor, category)
    wf = wfmod.selected(cache.workflows, conn, place["workflow_code"])
    attachments = check_photos(conn, req, wf)
    case = build_row(req, actor, category, reported, place, wf, attachments, cache, conn)
    created = insert(conn, case, commit=not key)
    answer = build_answer(req, category, reported, place, wf, case, created)
    if key:
        conn.execute("INSERT INTO intake_idempotency (key, request_hash, case_id, response) VALUES (%s, %s, %s, %s)",
                     [key, request_hash, created["id"], Jsonb(answer)])
    return answer


def resolve_category(conn, req: IntakeIn, catalog: Catalog) -> tuple[Category, Category | None]:
    """The category the case gets (GB/T 47678.5; a component's class for component reports) and,
    when it was mapped from CJ/T 214, the category as reported."""
    comp = None
    if req.component_id:
        comp = conn.execute("SELECT standard, type_code FROM component WHERE id = %s", [req.component_id]).fetchone()
        if comp is None:
            raise InvalidInput(f"unknown component {req.component_id}", field="component_id")
    if req.category_code:
        return catalog.resolve(req.category_code, req.standard, req.category_kind)
    return catalog.resolve(comp["type_code"], comp["standard"], "component", field="component_id")


def locate(conn, req: IntakeIn, actor: Actor, category: Category) -> dict:
    """Where the case is and who is responsible (sql/enrich.sql), with the channel's rules about
    a case without a location and one outside the town."""
    row = conn.execute(load_sql(PACKAGE, "enrich.sql"), {
        "component_id": req.component_id, "camera_code": req.camera_code, "address": req.address,
        "lon": req.lon, "lat": req.lat, "standard": category.standard, "kind": category.kind, "code": category.code,
        "channel": req.channel, "self_handled": req.self_handled, "urgency": req.urgency,
        "reporter_officer_code": req.reporter_officer_code or (actor.officer_code if req.channel == "patrol" else None),
    }).fetchone()
    if not row["urgency_known"]:
        raise InvalidInput(f"unknown urgency {req.urgency!r}", field="urgency")
    if req.camera_code and row["camera_code"] is None:
        raise InvalidInput(f"unknown or inactive camera {req.camera_code}", field="camera_code")
    row["needs_location"] = row["lon"] is None
    if row["needs_location"] and req.channel not in UNLOCATED_CHANNELS:
        raise InvalidInput("no location for this report", field="lon")
    if not row["needs_location"] and row["town_code"] is None:
        source = row["location_source"].split(":")[0]
        raise InvalidInput("the location lies outside the town", field=LOCATION_FIELDS.get(source, "address"))
    if req.channel == "patrol" and row["reporter_officer_id"] is None and req.reporter_officer_code:
        raise InvalidInput(f"unknown officer {req.reporter_officer_code}", field="reporter_officer_code")
    if (row["town_code"] or row["default_town_code"]) is None:
        raise InvalidInput("no town is configured in the database", field="lon")
    return row


def check_photos(conn, req: IntakeIn, wf: wfmod.Workflow) -> list[dict]:
    """The photos the workflow needs at intake, each already uploaded; → attachment rows."""
    given = {"photo": req.photos, "before": req.photos_before, "after": req.photos_after, "snapshot": req.snapshot}
    for role, count in wf.intake_photos().items():
        if len(given[role]) < count:
            raise InvalidInput(f"workflow {wf.code} needs at least {count} {role} photo(s) at intake",
                               field=PHOTO_FIELDS[role])
    attachments = [{"sha256": s, "role": r} for r, shas in given.items() for s in dict.fromkeys(shas)]
    check_known(conn, [a["sha256"] for a in attachments], "photos")
    return attachments


def build_row(req: IntakeIn, actor: Actor, category: Category, reported: Category | None, place: dict,
              wf: wfmod.Workflow, attachments: list[dict], cache: CasesCache, conn) -> dict:
    """The parameters of sql/insert_case.sql; the columns the workflow owns also go into the
    `report` event's data.set, so the row can be replayed from its events."""
    now = datetime.now(timezone.utc)
    cal = cache.calendar(conn)
    state = wf.initial_state(req.channel)
    closed = wf.is_closed(state)
    projected = {
        "state": state, "is_closed": closed, "workflow": wf.code, "workflow_version": wf.version,
        "department_code": place["department_code"], "filed_at": None, "dispatched_at": None, "deadline_at": None,
        "closed_at": now if closed else None, "duplicate_of": None, "postpone_pending": False,
        "urge_count": 0, "supervise_count": 0, "rework_count": 0, "self_handled": req.self_handled,
        "needs_location": place["needs_location"], "unit_grid_code": place["unit_grid_code"],
        "community_code": place["community_code"], "responsibility_grid_code": place["responsibility_grid_code"],
        "officer_id": place["officer_id"], **step_times(cal, wf, state, category.code, req.urgency, now),
    }
    return {
        **projected, "channel": req.channel, "standard": category.standard, "kind": category.kind,
        "code": category.code, "component_id": place["component_id"], "urgency": req.urgency,
        "description": req.description, "address": req.address,
        "reporter_officer_id": place["reporter_officer_id"],
        "reporter_name": req.reporter_name, "reporter_phone": req.reporter_phone, "external_id": req.external_id,
        "now": now, "lon": place["lon"], "lat": place["lat"],
        "reported_standard": reported.standard if reported else None, "reported_code": reported.code if reported else None,
        "camera_code": place["camera_code"], "town_code": place["town_code"] or place["default_town_code"],
        "day": now.astimezone(cal.tz).date(), "actor": actor.user, "role": actor.role,
        "comment": None, "attachments": Jsonb(attachments), "related": cache.catalog(conn).related_codes(category),
        "event_data": Jsonb({"set": {k: iso(v) for k, v in projected.items()},
                             "location_source": place["location_source"]}),
    }


def insert(conn, case: dict, commit: bool) -> dict:
    """Case number, case, event, photos, timers and duplicate suggestions in one statement.

    The day's counter row stays locked from this statement to the commit, serialising intakes of
    the town: without an idempotency record to write (`commit`), the COMMIT rides in the same round trip."""
    with conn.pipeline():
        cur = conn.execute(load_sql(PACKAGE, "insert_case.sql"), case)
        if commit:
            conn.commit()
    return cur.fetchone()


def build_answer(req: IntakeIn, category: Category, reported: Category | None, place: dict, wf: wfmod.Workflow,
                 case: dict, created: dict) -> dict:
    located = not place["needs_location"]
    return {
        "id": created["id"], "case_number": created["case_number"], "version": 1,
        "channel": req.channel, "state": case["state"], "state_name": wf.state_name(case["state"]),
        "is_closed": case["is_closed"], "workflow": wf.code, "workflow_version": wf.version,
        "category": {"standard": category.standard, "kind": category.kind, "code": category.code,
                     "name": category.name, "major_name": category.major_name},
        "reported_category": ({"standard": reported.standard, "kind": reported.kind, "code": reported.code,
                               "name": reported.name} if reported else None),
        "urgency": req.urgency,
        "location": {"lon": place["lon"], "lat": place["lat"], "source": place["location_source"]} if located else None,
        "needs_location": place["needs_location"],
        "unit_grid_code": place["unit_grid_code"], "community_code": place["community_code"],
        "responsibility_grid_code": place["responsibility_grid_code"], "officer_id": place["officer_id"],
        "department_code": place["department_code"], "component_id": place["component_id"],
        "camera_code": place["camera_code"], "external_id": req.external_id,
        "reported_at": case["now"].isoformat(), "step_deadline_at": iso(case["step_deadline_at"]),
        "duplicates": created["duplicates"],
    }
