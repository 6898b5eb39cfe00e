"""Filters shared by the processes (time range, category, channel, state, area) and the SQL they become.

The SQL is composed from the fixed fragments below with psycopg's `sql` module; every value the
client sends travels as a query parameter, never as text glued into the statement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from psycopg import sql
from pydantic import Field, StringConstraints, field_validator, model_validator
from shapely.geometry import shape

from civicgrid.processes.base import InvalidProcessInput, Params

CategoryPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
Source = Literal["cases", "components", "positions"]

# Renhe town and its surroundings, generously: a bbox outside this is a mistake (lon/lat swapped…)
LON_RANGE = (73.0, 136.0)
LAT_RANGE = (3.0, 54.0)


class AreaParams(Params):
    """Where: at most one of bbox, community, polygon (all in EPSG:4490 lon/lat)."""

    bbox: list[float] | None = Field(None, min_length=4, max_length=4,
                                     description="minLon,minLat,maxLon,maxLat in EPSG:4490")
    community: str | None = Field(None, pattern=r"^[0-9]{12}$", description="社区/村 code (12 digits)")
    polygon: dict | None = Field(None, description="GeoJSON Polygon or MultiPolygon in EPSG:4490")

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v):
        if v is None:
            return v
        x0, y0, x1, y1 = v
        if not (LON_RANGE[0] <= x0 < x1 <= LON_RANGE[1]) or not (LAT_RANGE[0] <= y0 < y1 <= LAT_RANGE[1]):
            raise ValueError("must be minLon,minLat,maxLon,maxLat with min < max, lon in [73, 136], lat in [3, 54]")
        return v

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v):
        if v is None:
            return v
        if v.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("must be a GeoJSON Polygon or MultiPolygon")
        try:
            geom = shape(v)
        except Exception as exc:  # shapely raises several kinds for malformed coordinates
            raise ValueError(f"is not valid GeoJSON: {exc}") from None
        if geom.is_empty or not geom.is_valid:
            raise ValueError("is empty or self-intersecting")
        x0, y0, x1, y1 = geom.bounds
        if not (LON_RANGE[0] <= x0 and x1 <= LON_RANGE[1] and LAT_RANGE[0] <= y0 and y1 <= LAT_RANGE[1]):
            raise ValueError("lies outside lon [73, 136], lat [3, 54]: coordinates must be EPSG:4490 lon/lat")
        return v

    @model_validator(mode="after")
    def _one_area(self):
        given = [n for n in ("bbox", "community", "polygon") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"bbox: give at most one of bbox, community, polygon (got {', '.join(given)})")
        return self

    @property
    def has_area(self) -> bool:
        return any(getattr(self, n) is not None for n in ("bbox", "community", "polygon"))


class TimeParams(Params):
    start: datetime | None = Field(None, description="inclusive start (ISO 8601 with time zone)")
    end: datetime | None = Field(None, description="exclusive end (ISO 8601 with time zone)")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v):
        if v is not None and v.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-01-01T00:00:00+08:00")
        return v

    @model_validator(mode="after")
    def _order(self):
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class SourceFilterParams(AreaParams, TimeParams):
    """What to count: the source and its filters."""

    source: Source = Field("cases", description="cases, components or positions (officer positions)")
    category: list[CategoryPrefix] | None = Field(
        None, max_length=50, description="category/type code prefixes (2-digit major or full code); cases and components")
    channel: list[Code] | None = Field(None, max_length=10, description="case channels (patrol, public, hotline, …); cases only")
    state: list[Annotated[str, StringConstraints(min_length=1, max_length=30)]] | None = Field(
        None, max_length=20, description="case states, or component statuses (完好, 破损, …)")
    officer: list[Annotated[int, Field(ge=1)]] | None = Field(None, max_length=200, description="officer ids; positions only")

    @model_validator(mode="after")
    def _fits_source(self):
        allowed = {"cases": {"category", "channel", "state"}, "components": {"category", "state"},
                   "positions": {"officer"}}[self.source]
        for name in ("category", "channel", "state", "officer"):
            if getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"{name}: does not apply to source {self.source}")
        return self


@dataclass(frozen=True)
class SourceSpec:
    table: str
    alias: str
    point: str      # a point expression in EPSG:4490
    time: str
    category: str | None = None
    channel: str | None = None
    state: str | None = None
    officer: str | None = None
    label: str | None = None   # what "top categories" counts


SOURCES = {
    "cases": SourceSpec("cases", "s", "s.geom", "s.reported_at", "s.category_code", "s.channel", "s.state",
                        label="s.category_code"),
    "components": SourceSpec("component", "s", "ST_PointOnSurface(s.geom)", "coalesce(s.change_date, s.initial_date)::timestamptz",
                             "s.type_code", None, "s.status", label="s.type_code"),
    "positions": SourceSpec("officer_position", "s", "s.geom", "s.recorded_at", officer="s.officer_id"),
}


@dataclass
class Where:
    clauses: list = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def sql(self) -> sql.Composable:
        if not self.clauses:
            return sql.SQL("TRUE")
        return sql.SQL(" AND ").join(self.clauses)


def area_where(p: AreaParams, geom: str, where: Where | None = None, conn=None) -> Where:
    """ST_Intersects(<geom>, <area>) for the area of `p`; checks that a named community exists."""
    where = where or Where()
    g = sql.SQL(geom)
    if p.bbox is not None:
        where.clauses.append(sql.SQL("{g} && ST_MakeEnvelope(%(bx0)s, %(by0)s, %(bx1)s, %(by1)s, 4490) "
                                     "AND ST_Intersects({g}, ST_MakeEnvelope(%(bx0)s, %(by0)s, %(bx1)s, %(by1)s, 4490))").format(g=g))
        where.params.update(bx0=p.bbox[0], by0=p.bbox[1], bx1=p.bbox[2], by1=p.bbox[3])
    elif p.community is not None:
        if conn is not None and conn.execute("SELECT 1 FROM community WHERE code = %s", [p.community]).fetchone() is None:
            raise InvalidProcessInput(f"community: no community with code {p.community}", field="community")
        where.clauses.append(sql.SQL("ST_Intersects({g}, (SELECT geom FROM community WHERE code = %(community)s))").format(g=g))
        where.params["community"] = p.community
    elif p.polygon is not None:
        where.clauses.append(sql.SQL("ST_Intersects({g}, ST_SetSRID(ST_GeomFromGeoJSON(%(polygon)s), 4490))").format(g=g))
        import json

        where.params["polygon"] = json.dumps(p.polygon)
    return where


def source_where(p: SourceFilterParams, conn=None, *, with_time: bool = True, with_area: bool = True) -> Where:
    spec = SOURCES[p.source]
    where = Where()
    if with_time and p.start is not None:
        where.clauses.append(sql.SQL(spec.time + " >= %(start)s"))
        where.params["start"] = p.start
    if with_time and p.end is not None:
        where.clauses.append(sql.SQL(spec.time + " < %(end)s"))
        where.params["end"] = p.end
    if p.category:
        # prefixes: '01' matches every minor class of major 01
        where.clauses.append(sql.SQL(spec.category + " LIKE ANY(%(category)s)"))
        where.params["category"] = [c + "%" for c in p.category]
    if p.channel:
        where.clauses.append(sql.SQL(spec.channel + " = ANY(%(channel)s)"))
        where.params["channel"] = p.channel
    if p.state:
        where.clauses.append(sql.SQL(spec.state + " = ANY(%(state)s)"))
        where.params["state"] = p.state
    if p.officer:
        where.clauses.append(sql.SQL(spec.officer + " = ANY(%(officer)s)"))
        where.params["officer"] = p.officer
    if with_area:
        area_where(p, spec.point if p.source != "components" else "s.geom", where, conn)
    return where


def plan_rows(conn, query, params) -> int:
    """The planner's row estimate for a query (cheap: EXPLAIN, no execution)."""
    explain = sql.SQL("EXPLAIN (FORMAT JSON) ") + (sql.SQL(query) if isinstance(query, str) else query)
    plan = conn.execute(explain, params).fetchone()
    doc = next(iter(plan.values())) if isinstance(plan, dict) else plan[0]
    return int(doc[0]["Plan"]["Plan Rows"])


def estimate_rows(conn, p: SourceFilterParams) -> int:
    """The planner's row estimate for the filtered source."""
    spec = SOURCES[p.source]
    where = source_where(p, conn)
    q = sql.SQL("SELECT 1 FROM {t} s WHERE {w}").format(t=sql.Identifier(spec.table), w=where.sql())
    return plan_rows(conn, q, where.params)


AREA_SQL = {"bbox": "ST_MakeEnvelope(%(bx0)s, %(by0)s, %(bx1)s, %(by1)s, 4490)",
            "community": "(SELECT geom FROM community WHERE code = %(community)s)",
            "polygon": "ST_SetSRID(ST_GeomFromGeoJSON(%(polygon)s), 4490)"}
TOWN_SQL = "(SELECT ST_Union(geom) FROM town)"


def area_sql(p: AreaParams) -> tuple[str, dict]:
    """The study area as a fixed SQL expression (EPSG:4490) and its parameters: the given area, else the town."""
    import json

    if p.bbox is not None:
        return AREA_SQL["bbox"], dict(zip(("bx0", "by0", "bx1", "by1"), p.bbox))
    if p.community is not None:
        return AREA_SQL["community"], {"community": p.community}
    if p.polygon is not None:
        return AREA_SQL["polygon"], {"polygon": json.dumps(p.polygon)}
    return TOWN_SQL, {}


def area_box_4548(conn, p: AreaParams) -> tuple[float, float, float, float] | None:
    """The study area's bounding box in EPSG:4548 metres (None: no area and no town boundary)."""
    area, params = area_sql(p)
    row = conn.execute(sql.SQL("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1 FROM "
                               "(SELECT ST_Transform(" + area + ", 4548)::box2d AS e) s"), params).fetchone()
    return None if row["x0"] is None else (row["x0"], row["y0"], row["x1"], row["y1"])


def box_cells(box: tuple[float, float, float, float] | None, cell_area: float, pad: float = 0.0) -> int:
    """About how many cells of `cell_area` m² cover a box widened by `pad` metres on each side."""
    if box is None:
        return 0
    x0, y0, x1, y1 = box
    side = cell_area ** 0.5
    return int(((x1 - x0 + 2 * pad) / side + 1) * ((y1 - y0 + 2 * pad) / side + 1))
