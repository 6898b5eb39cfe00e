"""What the intake page (受理, /intake) asks while a report is being typed, before it is sent.

- `duplicates`  the cases the intake would suggest as duplicates of this report now (same component,
                or the same/related category within 50 m and 72 h): the same category resolution and
                location as the intake (`intake.resolve_category`, sql/enrich.sql) and the same SQL
                function as its insert (`case_duplicate_candidates`), under the caller's row rules.
- `cameras`     the active video-patrol cameras (视频巡查 picks one on the map).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from civicgrid.cases.cache import CasesCache
from civicgrid.cases.intake import LOCATION_FIELDS, resolve_category
from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput
from civicgrid.inputs import parse_model

PACKAGE = "civicgrid.cases"
CAMERA_LIMIT = 5000


class DuplicatesQuery(BaseModel):
    """A report as far as it is typed: what it is (a category or a component) and where."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,5}$")] | None = None
    category_kind: Literal["matter", "component", "event"] | None = None
    standard: str | None = Field(default=None, max_length=40)
    lon: float | None = Field(default=None, ge=73, le=136)
    lat: float | None = Field(default=None, ge=3, le=54)
    component_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{16,17}$")] | None = None
    camera_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{2,40}$")] | None = None
    address: str | None = Field(default=None, min_length=2, max_length=200)
    limit: int = Field(default=10, ge=1, le=20)

    @model_validator(mode="after")
    def _pairs(self):
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat come together")
        return self


def duplicates(conn, params, cache: CasesCache) -> dict:
    q = parse_model(DuplicatesQuery, dict(params), default="query")
    if not (q.category_code or q.component_id or q.lon is not None or q.camera_code or q.address):
        raise InvalidInput("give category_code or component_id, and lon/lat, camera_code or address",
                           field="category_code")
    catalog = cache.catalog(conn)
    # without a category (not chosen yet) the answer is only where the report would be placed
    category = resolve_category(conn, q, catalog)[0] if q.category_code or q.component_id else None
    place = conn.execute(load_sql(PACKAGE, "enrich.sql"), {
        "component_id": q.component_id, "camera_code": q.camera_code, "address": q.address, "lon": q.lon,
        "lat": q.lat, "standard": category and category.standard, "kind": category and category.kind,
        "code": category and category.code, "channel": "hotline", "self_handled": False, "urgency": "normal",
        "reporter_officer_code": None,
    }).fetchone()
    if q.camera_code and place["camera_code"] is None:
        raise InvalidInput(f"unknown or inactive camera {q.camera_code}", field="camera_code")
    if place["lon"] is not None and place["town_code"] is None:
        raise InvalidInput("the location lies outside the town",
                           field=LOCATION_FIELDS.get(place["location_source"].split(":")[0], "address"))
    rows = [] if category is None else conn.execute(load_sql(PACKAGE, "duplicate_suggestions.sql"), {
        "lon": place["lon"], "lat": place["lat"], "standard": category.standard, "kind": category.kind,
        "code": category.code, "related": catalog.related_codes(category), "component_id": place["component_id"],
        "now": datetime.now(timezone.utc), "limit": q.limit,
    }).fetchall()
    for r in rows:
        hit = catalog.entries.get((r["standard"], r["category_kind"], r["category_code"]))
        r["category_name"] = hit.name if hit else None
        r["reported_at"] = r["reported_at"].isoformat()
    located = place["lon"] is not None
    return {
        "category": category and {"standard": category.standard, "kind": category.kind, "code": category.code,
                                  "name": category.name},
        "location": {"lon": place["lon"], "lat": place["lat"], "source": place["location_source"]} if located else None,
        "items": rows,
    }


def cameras(conn) -> list[dict]:
    return conn.execute(
        "SELECT code, name, component_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM camera WHERE active "
        "ORDER BY code LIMIT %s", [CAMERA_LIMIT]).fetchall()
