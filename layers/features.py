"""OGC API Features (Parts 1, 2, 3) for our collections: one SQL statement per page, GeoJSON by PostGIS.

The hot paths `/ogc/collections/{id}/items` and `/items/{featureId}` are served here (see `ogc.py`),
pygeoapi keeps the landing page, conformance, collection metadata, queryables and OpenAPI.

How a page is built
- One `SELECT` returns one text row per feature: PostgreSQL writes the whole GeoJSON Feature
  (`ST_AsGeoJSON` for the geometry, `row_to_json` for the properties); Python only joins
  the rows and appends `links`/`numberReturned`. The statement text depends only on the shape of
  the request (not its values), so psycopg prepares it after a few uses on each pooled connection.
- Output CRS (Part 2) is done in SQL: CRS84 (default) is the stored lon/lat; EPSG:4490 is the same
  coordinates in the EPSG axis order (lat, lon: `ST_FlipCoordinates`); EPSG:4548 is
  `ST_Transform(geom, 4548)` with northing first. `bbox-crs` and `filter-crs` take the same three.
- Paging: without `sortby`, pages are ordered by the collection key and `next`/`prev` links carry
  the last/first feature id (`after=`/`before=`), a keyset seek on the primary key, so page 1,000
  costs what page 1 costs. `offset` still works (and is used with `sortby`).

numberMatched
- exact for free when the first page holds every match (numberMatched = numberReturned);
- otherwise exact (`count(*)` with the same filter) when EXPLAIN of that count expects at most
  EXACT_COUNT_MAX rows at a planner cost of at most EXACT_COUNT_COST_MAX (a few milliseconds:
  index-backed filters on any table, anything on small tables); the unfiltered plan of each
  collection is cached for ESTIMATE_TTL seconds, so plain paging costs one query per page;
- otherwise omitted (the spec allows it), so a big table is never counted on every page.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from civicgrid.errors import InvalidInput, NotFound
from civicgrid.inputs import check_text, validation_error
from civicgrid.layers import cql, feeds
from civicgrid.layers.collections import Collection

EXACT_COUNT_MAX = 50_000        # planned matching rows
EXACT_COUNT_COST_MAX = 2_000.0  # planner cost of the count (≈ a few ms here); above: omitted
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS_URIS = {
    None: CRS84,
    4490: "http://www.opengis.net/def/crs/EPSG/0/4490",
    4548: "http://www.opengis.net/def/crs/EPSG/0/4548",
}
SUPPORTED_CRS = list(CRS_URIS.values())
_CRS_RE = re.compile(r"^(?:\[?EPSG:(\d+)\]?|https?://www\.opengis\.net/def/crs/EPSG/0/(\d+))$", re.I)


def parse_crs(value: str | None, field_name: str) -> int | None:
    """A CRS URI/CURIE → SRID (None = CRS84). 400 for anything we do not offer."""
    if value is None or value.strip() in ("", CRS84, "[OGC:CRS84]", "OGC:CRS84"):
        return None
    m = _CRS_RE.match(value.strip())
    if m:
        srid = int(m.group(1) or m.group(2))
        if srid in CRS_URIS:
            return srid
    raise InvalidInput(f"{field_name} '{value}' is not offered; use one of: " + ", ".join(SUPPORTED_CRS),
                       field=field_name)


def geometry_sql(c: Collection, srid: int | None, skip: bool) -> sql.Composable:
    if skip:
        return sql.SQL("'null'")
    g = sql.SQL("t.{}").format(sql.Identifier(c.geom_column))
    if srid is None:
        return sql.SQL("coalesce(ST_AsGeoJSON({}, 7, 0), 'null')").format(g)
    if srid == 4490:
        return sql.SQL("coalesce(ST_AsGeoJSON(ST_FlipCoordinates({}), 7, 0), 'null')").format(g)
    return sql.SQL("coalesce(ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform({}, {})), 3, 0), 'null')").format(
        g, sql.Literal(srid))


def id_sql(c: Collection) -> sql.Composable:
    if c.id_sql:
        return sql.SQL(c.id_sql)
    return sql.SQL("t.{}").format(sql.Identifier(c.key[0]))


def column_sql(c: Collection, name: str) -> sql.Composable:
    col = c.column(name)
    if col is not None and col.sql:
        return sql.SQL(col.sql)
    return sql.SQL("t.{}").format(sql.Identifier(name))


def feature_sql(c: Collection, props: list[str], srid: int | None, skip_geometry: bool) -> sql.Composable:
    """SQL text expression producing one GeoJSON Feature (rendered once per shape, then cached)."""
    return sql.SQL(_feature_text(c.id, tuple(props), srid, skip_geometry))


@lru_cache(maxsize=512)
def _feature_text(cid: str, props: tuple[str, ...], srid: int | None, skip_geometry: bool) -> str:
    from civicgrid.layers.collections import COLLECTIONS

    return _feature_sql(COLLECTIONS[cid], list(props), srid, skip_geometry).as_string(None)


def _feature_sql(c: Collection, props: list[str], srid: int | None, skip_geometry: bool) -> sql.Composable:
    if props:
        # row_to_json over a one-row subselect: compact JSON, ~15% faster than json_build_object
        cols = sql.SQL(", ").join(sql.SQL("{} AS {}").format(column_sql(c, p), sql.Identifier(p)) for p in props)
        properties = sql.SQL("(SELECT row_to_json(x) FROM (SELECT {}) x)::text").format(cols)
    else:
        properties = sql.SQL("'{}'")
    return sql.SQL(
        """'{{"type":"Feature","id":' || to_json({id})::text || ',"geometry":' || {geom}"""
        """ || ',"properties":' || {props} || '}}'"""
    ).format(id=id_sql(c), geom=geometry_sql(c, srid, skip_geometry), props=properties)


# ---------------------------------------------------------------- ids

def parse_id(c: Collection, text: str) -> list[tuple[str, Any]]:
    """A feature id → [(key column, value)]; NotFound when it cannot be one of ours."""
    if len(c.key) == 1:
        if c.id_type == "integer":
            if not re.fullmatch(r"-?\d{1,18}", text):
                raise NotFound(f"feature '{text}' not found in {c.id}")
            return [(c.key[0], int(text))]
        return [(c.key[0], text)]
    parts = text.split("-", len(c.key) - 1)
    if len(parts) != len(c.key) or not all(re.fullmatch(r"\d{1,19}", p) for p in parts):
        raise NotFound(f"feature '{text}' not found in {c.id}")
    return [(k, int(v)) for k, v in zip(c.key, parts)]


def key_value_sql(c: Collection, column: str, value: Any) -> sql.Composable:
    col = c.column(column)
    if col is not None and col.format == "date-time":
        # composite ids carry times as epoch microseconds: exact, no float rounding
        return sql.SQL("(timestamptz 'epoch' + {} * interval '1 microsecond')").format(sql.Literal(value))
    return sql.Literal(value)


def key_match_sql(c: Collection, pairs: list[tuple[str, Any]], op: str = "=") -> sql.Composable:
    cols = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k, _ in pairs)
    vals = sql.SQL(", ").join(key_value_sql(c, k, v) for k, v in pairs)
    return sql.SQL("(({}) {} ({}))").format(cols, sql.SQL(op), vals)


# ---------------------------------------------------------------- parameters

class ItemsQuery(BaseModel):
    """Query parameters of /items (Part 1 + 2 + 3), bounds included."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    f: str | None = Field(None, pattern=r"^(json|geojson|application/geo\+json|application/json)$")
    lang: str | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)
    bbox: str | None = None
    bbox_crs: str | None = Field(None, alias="bbox-crs")
    datetime_: str | None = Field(None, alias="datetime")
    crs: str | None = None
    filter: str | None = None
    filter_lang: str | None = Field(None, alias="filter-lang", pattern=r"^(cql2-text|cql2-json)$")
    filter_crs: str | None = Field(None, alias="filter-crs")
    sortby: str | None = None
    properties: str | None = None
    skipGeometry: bool = False
    after: str | None = None
    before: str | None = None
    updated_since: str | None = None   # the change feed (feeds.py)

    @field_validator("skipGeometry", mode="before")
    @classmethod
    def _bool(cls, v):
        if isinstance(v, str):
            low = v.lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no", ""):
                return False
            raise ValueError("must be true or false")
        return v




def validate_params(model: type[BaseModel], raw: dict[str, str]) -> BaseModel:
    for name, value in raw.items():
        check_text(value, name)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = validation_error(exc, rename=QUERY_NAMES, default="query")
        if exc.errors()[0]["type"] == "extra_forbidden":
            raise InvalidInput(f"unknown query parameter '{err.field}'", field=err.field) from None
        raise err from None


QUERY_NAMES = {"datetime_": "datetime", "bbox_crs": "bbox-crs", "filter_lang": "filter-lang", "filter_crs": "filter-crs"}


def parse_bbox(text: str, srid: int | None) -> sql.Composable:
    try:
        nums = [float(x) for x in text.split(",")]
    except ValueError:
        raise InvalidInput("bbox must be 4 or 6 comma-separated numbers", field="bbox") from None
    if len(nums) not in (4, 6) or not all(math.isfinite(n) for n in nums):
        raise InvalidInput(f"bbox must be 4 or 6 comma-separated numbers, got {len(nums)}", field="bbox")
    a1, a2, b1, b2 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if srid is None:
        x1, y1, x2, y2 = a1, a2, b1, b2
        if not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= 90 and -90 <= y2 <= 90):
            raise InvalidInput("bbox is outside -180..180 / -90..90 (CRS84 is lon,lat)", field="bbox")
    else:
        # EPSG:4490 is lat,lon; EPSG:4548 is northing,easting
        y1, x1, y2, x2 = a1, a2, b1, b2
    if y1 > y2 or (srid is not None and x1 > x2):
        raise InvalidInput("bbox lower corner must not be above/after the upper corner", field="bbox")
    if srid in (None, 4490):
        return sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4490)").format(*map(sql.Literal, (x1, y1, x2, y2)))
    return sql.SQL("ST_Transform(ST_MakeEnvelope({}, {}, {}, {}, {}), 4490)").format(
        *map(sql.Literal, (x1, y1, x2, y2, srid)))


def _instant(text: str, field_name: str = "datetime") -> datetime | None:
    text = text.strip()
    if text in ("..", ""):
        return None
    # GDAL 3.6 sends a date-only comparison as `2026-06-01T/..`: the day's start
    if len(text) == 11 and text.endswith("T"):
        text = text[:-1]
    try:
        value = datetime.fromisoformat(text.replace("/", "-", 2) if text[4:5] == "/" else text)
    except ValueError:
        raise InvalidInput(f"{field_name}: '{text}' is not an RFC 3339 date-time or date", field=field_name) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None, bool]:
    """→ (start, end, is_instant)."""
    if "/" in text:
        a, b = text.split("/", 1)
        start, end = _instant(a), _instant(b)
        if start and end and start > end:
            raise InvalidInput("datetime interval ends before it starts", field="datetime")
        return start, end, False
    value = _instant(text)
    if value is None:
        raise InvalidInput("datetime needs an instant or an interval", field="datetime")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        # a whole day
        from datetime import timedelta
        return value, value + timedelta(days=1) - timedelta(microseconds=1), False
    return value, value, True


def parse_names(c: Collection, text: str, field_name: str, allow_key: bool = True) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = set(c.column_names) | (set(c.key) | {"id"} if allow_key else set())
    for n in names:
        if n not in known:
            raise InvalidInput(f"unknown property '{n}' in {field_name}; known: " + ", ".join(c.column_names),
                               field=field_name)
    return names


# ---------------------------------------------------------------- plans

@dataclass
class ItemsPlan:
    collection: Collection
    query: sql.Composable
    where: sql.Composable
    limit: int
    offset: int
    keyset: bool
    backwards: bool
    srid: int | None
    has_filter: bool
    params: dict[str, str] = field(default_factory=dict)   # the request's own params, for links
    cursor_after: bool = False
    cursor: dict[str, str] = field(default_factory=dict)


def plan_items(c: Collection, raw: dict[str, str], filter_json: Any = None) -> ItemsPlan:
    """Validate the request and build the page SQL. `filter_json` comes from a POSTed CQL2 JSON.
    One function per clause, as tipg does: bbox, datetime, filter, property=value, then the order."""
    extra = {k: v for k, v in raw.items() if k in c.column_names}
    q: ItemsQuery = validate_params(ItemsQuery, {k: v for k, v in raw.items() if k not in extra})  # type: ignore
    srid = parse_crs(q.crs, "crs")
    conds = [*bbox_clause(c, q), *datetime_clause(c, q), *filter_clause(c, q, filter_json),
             *properties_clause(c, extra), *feeds.updated_since_clause(c, q.updated_since)]
    props = list(c.column_names) if q.properties is None else parse_names(c, q.properties, "properties", False)
    sort = parse_sortby(c, q.sortby) if q.sortby else []
    cursor, backwards = cursor_clause(c, q, sort)
    page_conds = conds + cursor
    order = order_clause(c, sort, backwards)
    where = sql.SQL(" AND ").join(page_conds) if page_conds else sql.SQL("TRUE")
    count_where = sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")
    # the page is cut in a subquery so that rows skipped by OFFSET never get their JSON built
    query = sql.SQL("SELECT {id}::text, {feat} FROM (SELECT * FROM {tbl} t WHERE {where} ORDER BY {order} "
                    "LIMIT {lim} OFFSET {off}) t ORDER BY {order}").format(
        id=id_sql(c), feat=feature_sql(c, props, srid, q.skipGeometry), tbl=sql.Identifier(c.table),
        where=where, order=order, lim=sql.Literal(q.limit + 1), off=sql.Literal(q.offset))
    # rendered once here: a cached plan is then reused as plain text
    query = sql.SQL(query.as_string(None))
    return ItemsPlan(c, query, count_where, q.limit, q.offset, not sort and q.offset == 0, backwards, srid,
                     bool(conds), params={k: v for k, v in raw.items() if k not in ("after", "before", "offset")},
                     cursor_after=q.after is not None,
                     cursor={k: v for k, v in (("after", q.after), ("before", q.before)) if v is not None})


def _geom(c: Collection) -> sql.Composable:
    return sql.SQL("t.{}").format(sql.Identifier(c.geom_column))


def bbox_clause(c: Collection, q: ItemsQuery) -> list[sql.Composable]:
    if q.bbox is None:
        if q.bbox_crs is not None:
            parse_crs(q.bbox_crs, "bbox-crs")
        return []
    env = parse_bbox(q.bbox, parse_crs(q.bbox_crs, "bbox-crs"))
    return [sql.SQL("({g} && {e} AND ST_Intersects({g}, {e}))").format(g=_geom(c), e=env)]


def datetime_clause(c: Collection, q: ItemsQuery) -> list[sql.Composable]:
    """An instant or an interval on the time column; ignored on collections without one."""
    if q.datetime_ is None:
        return []
    start, end, instant = parse_datetime(q.datetime_)
    if not c.time_column:
        return []
    tc = sql.SQL("t.{}").format(sql.Identifier(c.time_column))
    if instant:
        return [sql.SQL("{} = {}").format(tc, sql.Literal(start))]
    out = []
    if start is not None:
        out.append(sql.SQL("{} >= {}").format(tc, sql.Literal(start)))
    if end is not None:
        out.append(sql.SQL("{} <= {}").format(tc, sql.Literal(end)))
    return out


def filter_clause(c: Collection, q: ItemsQuery, filter_json: Any) -> list[sql.Composable]:
    filter_srid = parse_crs(q.filter_crs, "filter-crs")
    if filter_json is None and q.filter is None:
        return []
    return [cql.to_sql(cql.parse(q.filter, filter_json, q.filter_lang), c, filter_srid)]


def _property_value(col, name: str, value: str) -> Any:
    """`name=value` as the CQL2 literal of the property's type."""
    if col.type in ("integer", "number"):
        try:
            return int(value) if col.type == "integer" else float(value)
        except ValueError:
            raise InvalidInput(f"{name} must be a number", field=name) from None
    if col.type == "boolean":
        # GDAL turns `-where "flag = 1"` into flag=1: 1/0 are booleans as much as true/false
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidInput(f"{name} must be true or false (or 1 or 0)", field=name)
        return value.lower() in ("true", "1")
    if col.type in ("array", "object"):
        raise InvalidInput(f"{name} cannot be filtered with name=value; use filter", field=name)
    if col.format == "date-time":
        return {"timestamp": value}
    if col.format == "date":
        return {"date": value}
    return value


def properties_clause(c: Collection, extra: dict[str, str]) -> list[sql.Composable]:
    """`property=value` for any queryable, as the CQL2 equality it stands for."""
    return [cql.to_sql({"op": "=", "args": [{"property": name}, _property_value(c.column(name), name, value)]}, c)
            for name, value in extra.items()]


def cursor_clause(c: Collection, q: ItemsQuery, sort: list) -> tuple[list[sql.Composable], bool]:
    """The keyset seek of `after`/`before` (→ clauses, whether the page runs backwards)."""
    if q.after is not None and q.before is not None:
        raise InvalidInput("use either after or before, not both", field="after")
    if q.after is None and q.before is None:
        return [], False
    if sort:
        raise InvalidInput("after/before cannot be combined with sortby (use offset)", field="after")
    cursor = q.after if q.after is not None else q.before
    try:
        pairs = parse_id(c, cursor)
    except NotFound:
        raise InvalidInput(f"'{cursor}' is not a feature id of {c.id}", field="after" if q.after else "before") from None
    backwards = q.before is not None
    return [key_match_sql(c, pairs, "<" if backwards else ">")], backwards


def order_clause(c: Collection, sort: list[tuple[str, str]], backwards: bool) -> sql.Composable:
    key_cols = [sql.SQL("t.{}").format(sql.Identifier(k)) for k in c.key]
    if sort:
        return sql.SQL(", ").join(
            [sql.SQL("{} {} NULLS LAST").format(column_sql(c, n), sql.SQL(d)) for n, d in sort] + key_cols)
    direction = sql.SQL(" DESC" if backwards else "")
    return sql.SQL(", ").join(sql.SQL("{}{}").format(k, direction) for k in key_cols)


def parse_sortby(c: Collection, text: str) -> list[tuple[str, str]]:
    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        direction = "ASC"
        if part[0] in "+-":
            direction = "DESC" if part[0] == "-" else "ASC"
            part = part[1:]
        elif part.lower().endswith((" desc", ":d")):
            direction, part = "DESC", part.rsplit(" ", 1)[0].rsplit(":", 1)[0]
        elif part.lower().endswith((" asc", ":a")):
            part = part.rsplit(" ", 1)[0].rsplit(":", 1)[0]
        col = c.column(part)
        if part not in c.key and (col is None or col.type in ("array", "object")):
            raise InvalidInput(f"cannot sort by '{part}'; sortable: " + ", ".join(
                n.name for n in c.columns if n.type not in ("array", "object")), field="sortby")
        out.append((part, direction))
    return out


# ---------------------------------------------------------------- counts

ESTIMATE_TTL = 5.0


def _plan_rows_cost(explain: Any) -> tuple[float, float]:
    doc = explain[0] if isinstance(explain, list) else explain
    if isinstance(doc, str):
        doc = json.loads(doc)[0]
    return float(doc["Plan"]["Plan Rows"]), float(doc["Plan"]["Total Cost"])


def count_sql(plan: ItemsPlan, explain: bool) -> sql.Composable:
    """The count, or EXPLAIN of the scan it needs (its top node gives matching rows and cost)."""
    if explain:
        return sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} t WHERE {}").format(
            sql.Identifier(plan.collection.table), plan.where)
    return sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(sql.Identifier(plan.collection.table), plan.where)


async def number_matched(conn, plan: ItemsPlan, returned: int, more: bool,
                         estimates: dict[str, tuple[float, float, float]]) -> int | None:
    """Exact when free or cheap (see the module docstring), else None (omitted). `estimates` keeps
    each collection's unfiltered (rows, cost, when) for ESTIMATE_TTL seconds."""
    if plan.offset == 0 and not more and not plan.backwards and returned < plan.limit and \
            not plan.cursor_after:
        return returned
    key = plan.collection.id
    hit = estimates.get(key) if not plan.has_filter else None
    if hit and time.monotonic() - hit[2] < ESTIMATE_TTL:
        rows, cost = hit[0], hit[1]
    else:
        cur = await conn.execute(count_sql(plan, True))
        rows, cost = _plan_rows_cost((await cur.fetchone())[0])
        if not plan.has_filter:
            estimates[key] = (rows, cost, time.monotonic())
    if rows > EXACT_COUNT_MAX or cost > EXACT_COUNT_COST_MAX:
        return None
    cur = await conn.execute(count_sql(plan, False))
    return (await cur.fetchone())[0]


# ---------------------------------------------------------------- responses

def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def link(href: str, rel: str, type_: str = "application/geo+json", title: str | None = None) -> dict:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


# the other encodings of the same page (layers/ogc.py answers each `f`)
ALTERNATES = (("html", "text/html", "网页 this page as HTML"), ("jsonld", "application/ld+json", "JSON-LD"),
              ("csv", "text/csv", "CSV"))
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def link_header(links: list[dict]) -> str:
    """RFC 8288 `Link` header of the page's navigation links (clients that page by headers, e.g. GDAL)."""
    return ", ".join(f'<{x["href"]}>; rel="{x["rel"]}"; type="{x["type"]}"' for x in links
                     if x["rel"] in ("self", "next", "prev", "alternate", "collection", QUERYABLES_REL))


def items_links(plan: ItemsPlan, base: str, first_id: str | None, last_id: str | None, more: bool,
                returned: int) -> list[dict]:
    params = dict(plan.params)
    items_url = f"{base}/collections/{plan.collection.id}/items"

    def url(extra: dict) -> str:
        merged = {**params, **extra}
        return items_url + ("?" + urlencode(merged) if merged else "")

    self_extra = dict(plan.cursor)
    if plan.offset:
        self_extra["offset"] = str(plan.offset)
    links = [
        link(url(self_extra), "self", title="本页 this page"),
        *(link(url({**self_extra, "f": f}), "alternate", media, title) for f, media, title in ALTERNATES),
        link(f"{base}/collections/{plan.collection.id}", "collection", "application/json", "集合 collection"),
        link(f"{base}/collections/{plan.collection.id}/queryables", QUERYABLES_REL, "application/schema+json",
             "可查询字段 queryables"),
    ]
    if plan.keyset:
        if plan.backwards:
            has_next, has_prev = last_id is not None, more
        else:
            has_next, has_prev = more, plan.cursor_after
        if has_next and last_id is not None:
            links.append(link(url({"after": last_id}), "next", title="下一页 next page"))
        if has_prev and first_id is not None:
            links.append(link(url({"before": first_id}), "prev", title="上一页 previous page"))
    else:
        if more:
            links.append(link(url({"offset": str(plan.offset + plan.limit)}), "next", title="下一页 next page"))
        if plan.offset > 0:
            links.append(link(url({"offset": str(max(0, plan.offset - plan.limit))}), "prev", title="上一页 previous page"))
    return links


async def items_page(conn, plan: ItemsPlan, base: str, estimates: dict) -> tuple[bytes, list[dict]]:
    # no bound parameters: literals (psycopg-quoted) may hold '%' (LIKE patterns)
    cur = await conn.execute(plan.query)
    rows = await cur.fetchall()
    more = len(rows) > plan.limit
    rows = rows[:plan.limit]
    if plan.backwards:
        rows.reverse()
    first_id = rows[0][0] if rows else None
    last_id = rows[-1][0] if rows else None
    matched = await number_matched(conn, plan, len(rows), more, estimates)
    links = items_links(plan, base, first_id, last_id, more, len(rows))
    tail: dict[str, Any] = {"numberReturned": len(rows)}
    if matched is not None:
        tail["numberMatched"] = matched
    tail["timeStamp"] = now_iso()
    tail["links"] = links
    head = '{"type":"FeatureCollection","features":['
    return (head + ",".join(r[1] for r in rows) + "]," + json.dumps(tail, ensure_ascii=False)[1:]).encode(), links


class ItemQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    f: str | None = Field(None, pattern=r"^(json|geojson|application/geo\+json|application/json)$")
    lang: str | None = None
    crs: str | None = None
    properties: str | None = None
    skipGeometry: bool = False

    _b = field_validator("skipGeometry", mode="before")(ItemsQuery._bool.__func__)


def plan_item(c: Collection, feature_id: str, raw: dict[str, str]) -> tuple[sql.Composable, int | None]:
    q: ItemQuery = validate_params(ItemQuery, raw)  # type: ignore[assignment]
    srid = parse_crs(q.crs, "crs")
    props = list(c.column_names) if q.properties is None else parse_names(c, q.properties, "properties", False)
    pairs = parse_id(c, feature_id)
    version = sql.SQL("t.version") if c.versioned else sql.SQL("NULL::int")
    query = sql.SQL("SELECT {feat}, {version} FROM {tbl} t WHERE {match}").format(
        feat=feature_sql(c, props, srid, q.skipGeometry), version=version,
        tbl=sql.Identifier(c.table), match=key_match_sql(c, pairs))
    return query, srid


async def item_body(conn, c: Collection, feature_id: str, raw: dict[str, str], base: str) -> tuple[bytes, int | None, int | None]:
    """→ (body, version, srid); NotFound when absent."""
    query, srid = plan_item(c, feature_id, raw)
    cur = await conn.execute(query)
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"feature '{feature_id}' not found in {c.id}")
    feature, version = row
    links = [
        link(f"{base}/collections/{c.id}/items/{feature_id}", "self", title="本要素 this feature"),
        link(f"{base}/collections/{c.id}", "collection", "application/json", "集合 collection"),
    ]
    body = feature[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
    return body.encode(), version, srid
