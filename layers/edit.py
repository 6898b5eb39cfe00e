"""OGC API Features Part 4 (create, replace, update, delete) for the editable collections.

Rules
- Who may write is decided by the access layer (security/access.yml: GIS editors); collections
  that are not editable answer 405 to them.
- The payload is a GeoJSON Feature. Properties are validated by a pydantic model per collection
  (codes, lengths, dates); read-only properties (`version`, `updated_at`, `updated_by`, `area_m2`)
  may be sent back as read and are ignored; unknown properties are refused. The class code is
  checked against the code catalog of its standard and the geometry against the class's geometry
  kind; geometry validity is checked in PostGIS (ST_IsValidReason). The database triggers refuse
  the rest (outside the town, overlapping grids, component outside its unit grid): their
  check/foreign-key/unique violations are translated here into 400/409 with the reason.
- Optimistic locking: items carry `ETag: "<version>"`; PUT/PATCH/DELETE need `If-Match`
  (428 without, 412 when it is not the current version). Each write bumps `version`.
- History: who and when land in component_history (0001) / feature_history (0400) through
  triggers; the actor is set per transaction (`civicgrid.actor`): the authenticated user.
- Input CRS: `Content-Crs` header, CRS84 by default, EPSG:4490 (lat, lon) and EPSG:4548 accepted.
"""
from __future__ import annotations

import json
import re
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from civicgrid.db.errors import translate
from civicgrid.errors import InvalidInput, MethodNotAllowed, NotFound, PreconditionFailed, PreconditionRequired
from civicgrid.inputs import loads, parse_model
from civicgrid.layers import features
from civicgrid.layers.collections import Collection
from civicgrid.layers.models import ComponentProps

READ_ONLY = {"version", "updated_at", "updated_by", "area_m2"}
KIND_TYPES = {"point": ("Point", "MultiPoint"), "line": ("LineString", "MultiLineString"),
              "polygon": ("Polygon", "MultiPolygon")}


# ---------------------------------------------------------------- helpers

def actor() -> str:
    from civicgrid.security.principal import current_principal

    return current_principal().user


async def enter(conn, coll: Collection) -> None:
    """Record who writes (history triggers); under row security act as the caller, so PostgreSQL's
    policies decide which rows the write may see and touch (a row it may not see is a 404)."""
    await conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [actor()])
    if coll.row_security:
        from civicgrid.security import rows
        from civicgrid.security.principal import current_principal

        await rows.enter_async(conn, current_principal())


def check_allowed(coll: Collection) -> None:
    if coll.edit is None:
        raise MethodNotAllowed(f"collection {coll.id} is read-only: it accepts GET only", allow="GET, HEAD")


def if_match(request: Request) -> int | None:
    """The version named by If-Match (None for `*`)."""
    value = request.headers.get("if-match")
    if value is None:
        raise PreconditionRequired("this write needs an If-Match header with the item's ETag (GET it first)",
                                   field="If-Match")
    value = value.strip()
    if value == "*":
        return None
    m = re.fullmatch(r'(?:W/)?"?(\d+)"?', value)
    if not m:
        raise PreconditionFailed(f"If-Match {value} is not an ETag of this item", field="If-Match")
    return int(m.group(1))


async def read_feature(request: Request) -> dict:
    body = loads(await request.body())
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidInput("the body must be a GeoJSON Feature", field="type")
    if body.get("properties") is not None and not isinstance(body["properties"], dict):
        raise InvalidInput("properties must be an object", field="properties")
    return body


def validate_props(coll: Collection, props: dict) -> BaseModel:
    model = coll.edit.model
    clean = {k: v for k, v in props.items() if k not in READ_ONLY}
    return parse_model(model, clean, prefix="properties.")


def geometry_sql(geom: Any, crs: int | None) -> sql.Composable:
    base = sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}::text), 4490)").format(sql.Literal(json.dumps(geom)))
    if crs is None:
        return base
    if crs == 4490:
        return sql.SQL("ST_FlipCoordinates({})").format(base)
    return sql.SQL("ST_Transform(ST_FlipCoordinates(ST_SetSRID({}, {})), 4490)").format(base, sql.Literal(crs))


async def check_geometry(conn, coll: Collection, feature: dict, crs: int | None, props: BaseModel,
                         required: bool) -> sql.Composable | None:
    """Validate the geometry (type, class kind, validity); → SQL expression or None (derived/kept)."""
    accepted = coll.edit.geometry_types
    if hasattr(props, "geometry_types"):          # the model knows which geometry its kind is drawn as
        accepted = props.geometry_types()
    geom = feature.get("geometry")
    if accepted is None:
        if geom is not None:
            raise InvalidInput(f"{coll.id}: geometry is derived from unit_grid_codes; send null", field="geometry")
        return None
    if geom is None:
        if required:
            raise InvalidInput("geometry is required", field="geometry")
        return None
    if not isinstance(geom, dict) or geom.get("type") not in accepted:
        got = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
        raise InvalidInput(f"{coll.id} needs a {' or '.join(accepted)} geometry, got {got}", field="geometry")
    if coll.id == "urban-components":
        p: ComponentProps = props  # type: ignore[assignment]
        cur = await conn.execute("SELECT geometry_kind FROM code_catalog WHERE standard = %s AND kind = 'component' "
                                 "AND code = %s", [p.standard, p.type_code])
        row = await cur.fetchone()
        if row is None:
            raise InvalidInput(f"type_code {p.type_code} is not a component class of {p.standard}", field="type_code")
        if geom["type"] not in KIND_TYPES[row[0]]:
            raise InvalidInput(f"class {p.type_code} needs a {row[0]} geometry, got {geom['type']}", field="geometry")
    expr = geometry_sql(geom, crs)
    try:
        cur = await conn.execute(sql.SQL("SELECT ST_IsValid(g), ST_IsValidReason(g), ST_IsEmpty(g), "
                                         "ST_CoveredBy(g, ST_MakeEnvelope(-180, -90, 180, 90, 4490)) "
                                         "FROM (SELECT {} AS g) x").format(expr))
        valid, reason, empty, on_earth = await cur.fetchone()
    except psycopg.Error as exc:
        raise InvalidInput(f"geometry is not valid GeoJSON: {str(exc).splitlines()[0]}", field="geometry") from exc
    if empty:
        raise InvalidInput("geometry is empty", field="geometry")
    if not valid:
        raise InvalidInput(f"geometry is not valid: {reason}", field="geometry")
    if not on_earth:
        raise InvalidInput("geometry is outside -180..180 / -90..90: CRS84 is lon,lat; send Content-Crs "
                           "for other axis orders", field="geometry")
    if coll.id == "unit-grids":
        expr = sql.SQL("ST_Multi({})").format(expr)
    return expr


def _db_error(exc: psycopg.Error, coll: Collection):
    """translate(), but a shape into a plan that does not exist and one into a plan the caller may
    not see (refused by row security) get the same answer."""
    if coll.id == "annotations" and isinstance(exc, (psycopg.errors.ForeignKeyViolation,
                                                     psycopg.errors.InsufficientPrivilege)):
        return InvalidInput("properties.plan_id: no such plan, or not one the caller may see", field="properties.plan_id")
    return translate(exc)


def columns_and_values(coll: Collection, props: BaseModel, key_value: Any | None) -> dict[str, Any]:
    data = props.model_dump()
    data.pop("unit_grid_codes", None)
    if coll.id == "urban-components":
        data["id"] = key_value
        data["extra"] = psycopg.types.json.Jsonb(data["extra"])
    elif coll.id == "annotations":
        data["style"] = psycopg.types.json.Jsonb({k: v for k, v in data["style"].items() if v is not None})
    elif coll.id in ("unit-grids", "responsibility-grids"):
        data["code"] = key_value
        if not data.get("community_code"):
            data["community_code"] = key_value[:12]
        if coll.id == "unit-grids":
            data = {k: v for k, v in data.items() if not (k == "valid_from" and v is None)}
    return data


async def set_members(conn, coll: Collection, code: str, props: BaseModel) -> None:
    if coll.id != "responsibility-grids" or props.unit_grid_codes is None:  # type: ignore[attr-defined]
        return
    await conn.execute("DELETE FROM responsibility_grid_member WHERE responsibility_grid_code = %s "
                       "AND NOT (unit_grid_code = ANY(%s))", [code, props.unit_grid_codes])  # type: ignore[attr-defined]
    await conn.execute("INSERT INTO responsibility_grid_member (unit_grid_code, responsibility_grid_code) "
                       "SELECT u, %s FROM unnest(%s::text[]) u ON CONFLICT (unit_grid_code) "
                       "DO UPDATE SET responsibility_grid_code = excluded.responsibility_grid_code",
                       [code, props.unit_grid_codes])  # type: ignore[attr-defined]


async def respond_feature(conn, coll: Collection, fid: str, status: int, base: str) -> Response:
    body, version, srid = await features.item_body(conn, coll, fid, {}, base)
    headers = {"ETag": f'"{version}"', "Content-Crs": f"<{features.CRS84}>"}
    if status == 201:
        headers["Location"] = f"{base}/collections/{coll.id}/items/{fid}"
    return Response(body, status_code=status, media_type="application/geo+json", headers=headers)


# ---------------------------------------------------------------- create

async def create(request: Request, coll: Collection, pool, base: str) -> Response:
    check_allowed(coll)
    feature = await read_feature(request)
    crs = features.parse_crs(request.headers.get("content-crs", "").strip("<> ") or None, "Content-Crs")
    props_in = dict(feature.get("properties") or {})
    key_prop = coll.edit.key_property
    if key_prop:
        if feature.get("id") is not None:
            given = str(feature["id"])
            if props_in.get(key_prop) not in (None, given):
                raise InvalidInput(f"id {given} and properties.{key_prop} differ", field=key_prop)
            props_in[key_prop] = given
        if not props_in.get(key_prop):
            raise InvalidInput(f"a new {coll.id} item needs its {key_prop} (feature id)", field=key_prop)
    props = validate_props(coll, props_in)
    key_value = getattr(props, key_prop) if key_prop else None
    async with pool.connection() as conn:
        try:
            async with conn.transaction():
                await enter(conn, coll)
                geom = await check_geometry(conn, coll, feature, crs, props, required=True)
                data = columns_and_values(coll, props, key_value)
                cols = list(data)
                names = [sql.Identifier(c) for c in cols] + ([sql.Identifier("geom")] if geom is not None else [])
                values = [sql.Placeholder()] * len(cols) + ([geom] if geom is not None else [])
                query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                    sql.Identifier(coll.table), sql.SQL(", ").join(names), sql.SQL(", ").join(values),
                    sql.Identifier(coll.key[0]))
                cur = await conn.execute(query, [data[c] for c in cols])
                fid = str((await cur.fetchone())[0])
                await set_members(conn, coll, fid, props)
        except psycopg.Error as exc:
            raise _db_error(exc, coll) from exc
        return await respond_feature(conn, coll, fid, 201, base)


# ---------------------------------------------------------------- replace / update / delete

async def change(request: Request, coll: Collection, fid: str, pool, base: str) -> Response:
    check_allowed(coll)
    expected = if_match(request)
    pairs = features.parse_id(coll, fid)
    match = features.key_match_sql(coll, pairs)
    method = request.method
    feature: dict = {}
    if method in ("PUT", "PATCH"):
        feature = await read_feature(request) if method == "PUT" else await read_patch(request)
    crs = features.parse_crs(request.headers.get("content-crs", "").strip("<> ") or None, "Content-Crs")
    async with pool.connection() as conn:
        try:
            async with conn.transaction():
                await enter(conn, coll)
                cur = await conn.execute(sql.SQL("SELECT t.version, to_jsonb(t) - 'geom' FROM {} t WHERE {} FOR UPDATE").format(
                    sql.Identifier(coll.table), match))
                row = await cur.fetchone()
                if row is None:
                    raise NotFound(f"feature '{fid}' not found in {coll.id}")
                version, current = row
                if expected is not None and expected != version:
                    raise PreconditionFailed(f"the item changed: its ETag is \"{version}\", not \"{expected}\"; "
                                             "GET it again and retry", field="If-Match")
                if method == "DELETE":
                    await conn.execute(sql.SQL("DELETE FROM {} t WHERE {}").format(sql.Identifier(coll.table), match))
                    return Response(status_code=204)
                key_prop = coll.edit.key_property
                props_in = dict(feature.get("properties") or {})
                if method == "PATCH":
                    model_fields = coll.edit.model.model_fields
                    merged = {k: v for k, v in current.items() if k in model_fields}
                    if coll.id == "responsibility-grids" and "unit_grid_codes" not in props_in:
                        merged.pop("unit_grid_codes", None)
                    for k, v in props_in.items():
                        merged[k] = v
                    props_in = {k: v for k, v in merged.items() if v is not None or k in props_in}
                if key_prop:
                    if props_in.get(key_prop) not in (None, fid):
                        raise InvalidInput(f"properties.{key_prop} cannot change (it is the feature id {fid})",
                                           field=key_prop)
                    props_in[key_prop] = fid
                props = validate_props(coll, props_in)
                geom_required = method == "PUT"
                if method == "PATCH" and "geometry" not in feature:
                    geom = None
                else:
                    geom = await check_geometry(conn, coll, feature, crs, props, required=geom_required)
                data = columns_and_values(coll, props, fid if key_prop else None)
                data.pop("id", None) if coll.id in ("urban-components", "pois") else data.pop("code", None)
                sets = [sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder()) for c in data]
                if geom is not None:
                    sets.append(sql.SQL("geom = {}").format(geom))
                sets.append(sql.SQL("version = t.version + 1"))
                sets.append(sql.SQL("updated_at = now()"))
                if coll.id == "urban-components":
                    sets.append(sql.SQL("updated_by = cg_actor()"))
                await conn.execute(sql.SQL("UPDATE {} t SET {} WHERE {}").format(
                    sql.Identifier(coll.table), sql.SQL(", ").join(sets), match), list(data.values()))
                await set_members(conn, coll, fid, props)
        except psycopg.Error as exc:
            raise _db_error(exc, coll) from exc
        return await respond_feature(conn, coll, fid, 200, base)


async def read_patch(request: Request) -> dict:
    """PATCH takes a partial Feature (JSON merge patch of properties, optional geometry)."""
    body = loads(await request.body())
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a (partial) GeoJSON Feature", field="body")
    if "properties" in body and not isinstance(body["properties"], dict):
        raise InvalidInput("properties must be an object", field="properties")
    return body
