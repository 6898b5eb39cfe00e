"""OGC API - Tiles: Mapbox vector tiles (WebMercatorQuad) straight from PostGIS, cached in PostgreSQL.

Routes (paths relative to /ogc, placed before pygeoapi's):

| path | what |
| --- | --- |
| /collections/{id}/tiles | the tilesets of a collection (only WebMercatorQuad) |
| /collections/{id}/tiles/WebMercatorQuad | tileset metadata: OGC links plus TileJSON 3 fields (MapLibre reads it as a source `url`) |
| /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x} | one MVT tile |
| /tiles, /tiles/WebMercatorQuad, /tiles/WebMercatorQuad/{z}/{y}/{x} | the offline basemap (底图): a dataset tileset with several layers |
| /tileMatrixSets, /tileMatrixSets/WebMercatorQuad | the tile matrix set (pygeoapi only serves /TileMatrixSets) |

Tiles are built by one SQL statement per layer (layers/sql/tiles_*.sql) with integer SRIDs
(`ST_Transform(geom, 3857)`; a text CRS makes PostGIS build a projection per row). Below a layer's
`detail_zoom` points are counted in cells aligned with the tile (one point per cell with `count`)
and polygons are simplified by a tolerance that grows with the tile size, so a z10 tile of the whole
town stays small. An empty tile answers 204 No Content.

Rendered tiles land in `tile_cache` (migration 0450) after the response is sent; statement-level
triggers on the source tables delete the cached tiles under changed rows and bump a per-layer
version, which is also the tile's ETag.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.db import load_sql, reads
from civicgrid.errors import CivicgridError, InvalidInput, NotFound
from civicgrid.inputs import parse_model
from civicgrid.layers.collections import COLLECTIONS, Tiles
from civicgrid.state import app_state

log = logging.getLogger("civicgrid.tiles")

PACKAGE = "civicgrid.layers"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
EXTENT = 4096
# 64 of 4096 units: the buffer ST_AsMVTGeom keeps around a tile; the cache remembers it for invalidation
MARGIN = 64 / EXTENT
WORLD = 2 * 20037508.342789244  # width of the Web Mercator square in metres


def tile_width(z: int) -> float:
    return WORLD / (1 << z)


@dataclass(frozen=True)
class TileLayer:
    """One vector tile layer: a collection's `tiles` (layers/collections.py). From `detail_zoom`
    every feature is in the tile; below it points are aggregated in cells of `tile width /
    cells_per_tile` (×2 and ×4 finer on the two zooms just below `detail_zoom`). Polygons are
    simplified by zoom instead."""

    id: str
    spec: Tiles
    cells_per_tile: int = 16      # 32 screen pixels per cell on a 512-pixel tile
    maxzoom: int = MAX_ZOOM

    def statement(self, z: int) -> tuple[str, dict]:
        width = tile_width(z)
        params = {"margin": MARGIN}
        spec = self.spec
        if spec.clustered_sql and z < spec.detail_zoom:
            # finer cells on the last zooms before detail: there a cell mostly holds one feature
            per_tile = self.cells_per_tile * (4 if z == spec.detail_zoom - 1 else 2 if z == spec.detail_zoom - 2 else 1)
            params.update(cells=(1 << z) * per_tile, cells_per_tile=per_tile)
            return load_sql(PACKAGE, spec.clustered_sql), params
        # one tile unit of simplification; two below z13 where grids are tiny on screen
        params["tolerance"] = width / EXTENT * (2 if z < 13 else 1) if z < 16 else 0.0
        return load_sql(PACKAGE, spec.detail_sql), params


# the collections served as tiles, from the registry
LAYERS: dict[str, TileLayer] = {c.id: TileLayer(c.id, c.tiles) for c in COLLECTIONS.values() if c.tiles}


# ------------------------------------------------------------------ the basemap (底图) dataset

BASEMAP = "basemap"


@dataclass(frozen=True)
class BasemapPart:
    """One layer of the basemap, drawn from `table` when it exists."""

    name: str
    table: str
    sql: str


BASEMAP_PARTS = (
    BasemapPart("landuse", "unit_grid", "tiles_basemap_landuse.sql"),
    BasemapPart("road", "demo_road", "tiles_basemap_road.sql"),
    BasemapPart("community", "community", "tiles_basemap_community.sql"),
    BasemapPart("town", "town", "tiles_basemap_town.sql"),
)
BASEMAP_FIELDS = {
    "landuse": {"land_use": "用地类别", "kind": "类型（居住/商业/工业/绿地/农田/水域/其他）"},
    "road": {"name": "道路名称", "kind": "道路等级（arterial 主干路, street 街道, lane 巷道）"},
    "community": {"code": "社区编码", "name": "社区/村名称", "kind": "社区/村", "label": "1 = 标注点"},
    "town": {"code": "镇编码", "name": "镇名称"},
}


class TileState:
    """The app state's `tiles`: which basemap parts exist in the database (checked once)."""

    def __init__(self) -> None:
        self.parts: list[BasemapPart] | None = None

    async def basemap_parts(self, conn) -> list[BasemapPart]:
        if self.parts is None:
            found = []
            for part in BASEMAP_PARTS:
                cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", [part.table])
                if (await cur.fetchone())[0]:
                    found.append(part)
            for part in found:
                try:
                    await conn.execute("SELECT tile_cache_watch(%s::regclass, ARRAY[%s])", [part.table, BASEMAP])
                except Exception as exc:  # a read-only role cannot add triggers: tiles still work
                    log.warning("basemap cache cannot watch %s: %s", part.table, exc)
            self.parts = found
        return self.parts


# ------------------------------------------------------------------ database access (the app state's tile pool)

async def _cached(conn, layer: str, z: int, x: int, y: int):
    cur = await conn.execute(
        "SELECT t.data, coalesce(v.version, 0) AS version FROM tile_cache t "
        "LEFT JOIN tile_layer_version v ON v.layer = t.layer "
        "WHERE t.layer = %s AND t.z = %s AND t.x = %s AND t.y = %s", [layer, z, x, y])
    return await cur.fetchone()


async def _version(conn, layer: str) -> int:
    cur = await conn.execute("SELECT coalesce((SELECT version FROM tile_layer_version WHERE layer = %s), 0)", [layer])
    return (await cur.fetchone())[0]


async def _store(pool, layer: str, z: int, x: int, y: int, version: int, data: bytes) -> None:
    try:
        async with pool.connection() as conn:
            await conn.execute("SELECT tile_cache_put(%s, %s, %s, %s, %s, %s, %s)",
                               [layer, z, x, y, MARGIN, version, data])
    except Exception as exc:  # the tile was served; a failed cache write only costs a re-render
        log.warning("tile cache write failed for %s/%s/%s/%s: %s", layer, z, x, y, exc)


async def render(state, layer_id: str, z: int, x: int, y: int, *, use_cache: bool = True) -> tuple[bytes, int, bool]:
    """The MVT bytes of one tile, the layer version, and whether it must still be cached."""
    async with state.tile_pool.connection() as conn:
        return await render_on(conn, state, layer_id, z, x, y, use_cache=use_cache)


async def render_on(conn, state, layer_id: str, z: int, x: int, y: int, *,
                    use_cache: bool = True) -> tuple[bytes, int, bool]:
    """`render` on a given connection (the primary's or a standby's: it only reads). The version is
    read before the data, so a tile is never stored under a version older than what it shows
    (tile_cache_put refuses a version the primary has moved past)."""
    if use_cache:
        hit = await _cached(conn, layer_id, z, x, y)
        if hit is not None:
            return bytes(hit[0]), hit[1], False
    version = await _version(conn, layer_id)
    if layer_id == BASEMAP:
        parts = await state.tiles.basemap_parts(conn)
        params = {"z": z, "x": x, "y": y, "margin": MARGIN, "tolerance": tile_width(z) / EXTENT * 2}
        data = b""
        for part in parts:
            if z < 13 and part.name == "landuse":
                params["tolerance"] = tile_width(z) / EXTENT * 4
            cur = await conn.execute(load_sql(PACKAGE, part.sql), params)
            data += bytes((await cur.fetchone())[0] or b"")
    else:
        statement, extra = LAYERS[layer_id].statement(z)
        cur = await conn.execute(statement, {"z": z, "x": x, "y": y, **extra})
        data = bytes((await cur.fetchone())[0] or b"")
    return data, version, True


async def town_extent(pool) -> list[float] | None:
    """[west, south, east, north] of the town in lon/lat, None before a town is loaded."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                                 "FROM (SELECT ST_Extent(geom) AS e FROM town) s")
        row = await cur.fetchone()
    return [round(v, 6) for v in row] if row and row[0] is not None else None


# ------------------------------------------------------------------ parameters

class TileAddress(BaseModel):
    """A tile of WebMercatorQuad: tileMatrix (z), tileRow (y), tileCol (x)."""

    tileMatrix: int = Field(ge=0, description=f"zoom level of WebMercatorQuad, 0 to {MAX_ZOOM}")
    tileRow: int = Field(ge=0)
    tileCol: int = Field(ge=0)

    @model_validator(mode="after")
    def _inside_matrix(self):
        if self.tileMatrix > MAX_ZOOM:
            raise ValueError(f"tileMatrix {self.tileMatrix} is beyond the tile matrix set {TMS_ID}, "
                             f"whose tile matrices are 0 to {MAX_ZOOM}")
        size = 1 << self.tileMatrix
        if self.tileRow >= size:
            raise ValueError(f"tileRow must be below {size} at tileMatrix {self.tileMatrix}")
        if self.tileCol >= size:
            raise ValueError(f"tileCol must be below {size} at tileMatrix {self.tileMatrix}")
        return self


def _validated(model, **values):
    return parse_model(model, values)


# v: a version the web page adds after it changed a layer (past the browser's 60 s tile cache)
ALLOWED_QUERY = {"f", "v"}


def _check_query(request: Request, formats: set[str]) -> None:
    for key in request.query_params:
        if key not in ALLOWED_QUERY:
            raise InvalidInput(f"unknown query parameter '{key}'", field=key)
    f = request.query_params.get("f")
    if f is not None and f not in formats:
        raise InvalidInput(f"f must be one of {', '.join(sorted(formats))}", field="f")


def _layer(collection_id: str) -> TileLayer:
    layer = LAYERS.get(collection_id)
    if layer is None:
        raise NotFound(f"collection '{collection_id}' has no tiles (tiled: {', '.join(LAYERS)})",
                       field="collectionId")
    return layer


def _tms(request: Request) -> None:
    tms = request.path_params.get("tms")
    if tms != TMS_ID:
        raise NotFound(f"tile matrix set '{tms}' is not offered (only {TMS_ID})", field="tileMatrixSetId")


def _errors(handler):
    """Our errors as OGC exception JSON here, whichever app mounts these routes."""

    async def wrapper(request: Request):
        try:
            return await handler(request)
        except CivicgridError as exc:
            return JSONResponse(exc.to_json(), status_code=exc.status)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def _ogc_base(request: Request) -> str:
    # Starlette keeps the mount prefix in root_path; without a mount (tests) the routes sit at /
    path = request.url.path
    for marker in ("/collections/", "/tiles", "/tileMatrixSets"):
        idx = path.find(marker)
        if idx >= 0:
            return f"{request.url.scheme}://{request.url.netloc}{path[:idx]}"
    return f"{request.url.scheme}://{request.url.netloc}"


# ------------------------------------------------------------------ documents

def _tileset_summary(base: str, prefix: str, title: str) -> dict:
    href = f"{base}{prefix}/tiles/{TMS_ID}"
    return {
        "title": title, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"rel": "self", "type": "application/json", "title": f"{title} ({TMS_ID})", "href": href},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": "application/json",
             "href": f"{base}/tileMatrixSets/{TMS_ID}"},
        ],
    }


def _tileset(base: str, prefix: str, title: str, description: str, vector_layers: list[dict],
             minzoom: int, maxzoom: int, bounds: list[float] | None) -> dict:
    href = f"{base}{prefix}/tiles/{TMS_ID}"
    template = href + "/{z}/{y}/{x}"
    doc = _tileset_summary(base, prefix, title)
    doc.update({
        "description": description,
        "tileMatrixSetLimits": [
            {"tileMatrix": str(z), **_limits(bounds, z)} for z in range(minzoom, maxzoom + 1)
        ] if bounds else [],
        "layers": [{"id": v["id"], "dataType": "vector", "geometryDimension": v.get("geometry_dimension"),
                    "propertiesSchema": {"type": "object", "properties": {
                        k: {"description": d} for k, d in v["fields"].items()}}} for v in vector_layers],
        # TileJSON 3.0 for MapLibre and other web clients
        "tilejson": "3.0.0", "name": title, "scheme": "xyz", "tiles": [template],
        "minzoom": minzoom, "maxzoom": maxzoom,
        "vector_layers": [{"id": v["id"], "description": v.get("description", ""), "fields": v["fields"],
                           "minzoom": minzoom, "maxzoom": maxzoom} for v in vector_layers],
    })
    if bounds:
        doc["bounds"] = bounds
        doc["center"] = [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6), 13]
    doc["links"].append({"rel": "item", "type": MVT_TYPE, "templated": True, "href":
                         href + "/{tileMatrix}/{tileRow}/{tileCol}"})
    return doc


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(x, y) of the WebMercatorQuad tile holding a point."""
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = int((1 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _limits(bounds: list[float], z: int) -> dict:
    x0, y0 = lonlat_to_tile(bounds[0], bounds[3], z)
    x1, y1 = lonlat_to_tile(bounds[2], bounds[1], z)
    return {"minTileRow": y0, "maxTileRow": y1, "minTileCol": x0, "maxTileCol": x1}


_DIMENSION = {"points": 0, "lines": 1, "polygons": 2}


# ------------------------------------------------------------------ endpoints

@_errors
async def collection_tilesets(request: Request) -> JSONResponse:
    layer = _layer(request.path_params["collection_id"])
    _check_query(request, {"json"})
    base = _ogc_base(request)
    prefix = f"/collections/{layer.id}"
    return JSONResponse({
        "links": [{"rel": "self", "type": "application/json", "href": f"{base}{prefix}/tiles"},
                  {"rel": "collection", "type": "application/json", "href": f"{base}{prefix}"}],
        "tilesets": [_tileset_summary(base, prefix, layer.spec.title)],
    })


@_errors
async def collection_tileset(request: Request) -> JSONResponse:
    layer = _layer(request.path_params["collection_id"])
    _tms(request)
    _check_query(request, {"json", "tilejson"})
    base = _ogc_base(request)
    vector = [{"id": layer.id, "description": layer.spec.description, "fields": layer.spec.fields,
               "geometry_dimension": _DIMENSION[layer.spec.geometry_type]}]
    return JSONResponse(_tileset(base, f"/collections/{layer.id}", layer.spec.title, layer.spec.description, vector,
                                 layer.spec.minzoom, layer.maxzoom, await town_extent(app_state(request).tile_pool)))


def _tile_address(request: Request) -> TileAddress:
    p = request.path_params
    values = {}
    for name, key in (("tileMatrix", "z"), ("tileRow", "y"), ("tileCol", "x")):
        raw = p[key]
        if not raw.isdigit() or len(raw) > 9:
            raise InvalidInput(f"{name} must be a non-negative integer, got '{raw}'", field=name)
        values[name] = int(raw)
    return _validated(TileAddress, **values)


async def _tile_response(request: Request, layer_id: str) -> Response:
    _tms(request)
    _check_query(request, {"mvt"})
    a = _tile_address(request)
    z, x, y = a.tileMatrix, a.tileCol, a.tileRow
    state = app_state(request)
    if layer_id == BASEMAP and state.tiles.parts is None:
        async with state.tile_pool.connection() as conn:   # the cache's triggers go on the primary
            await state.tiles.basemap_parts(conn)
    data, version, fresh = await reads.read(
        request, lambda conn: render_on(conn, state, layer_id, z, x, y), tiles=True)
    etag = f'W/"{layer_id}-{version}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    task = BackgroundTask(_store, state.tile_pool, layer_id, z, x, y, version, data) if fresh else None
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers, background=task)
    if not data:
        return Response(status_code=204, headers=headers, background=task)
    return Response(data, media_type=MVT_TYPE, headers=headers, background=task)


@_errors
async def collection_tile(request: Request) -> Response:
    layer = _layer(request.path_params["collection_id"])
    return await _tile_response(request, layer.id)


@_errors
async def dataset_tilesets(request: Request) -> JSONResponse:
    _check_query(request, {"json"})
    base = _ogc_base(request)
    return JSONResponse({"links": [{"rel": "self", "type": "application/json", "href": f"{base}/tiles"}],
                         "tilesets": [_tileset_summary(base, "", "底图 Basemap")]})


@_errors
async def dataset_tileset(request: Request) -> JSONResponse:
    _tms(request)
    _check_query(request, {"json", "tilejson"})
    base = _ogc_base(request)
    state = app_state(request)
    async with state.tile_pool.connection() as conn:
        parts = await state.tiles.basemap_parts(conn)
    vector = [{"id": p.name, "fields": BASEMAP_FIELDS[p.name],
               "geometry_dimension": 1 if p.name in ("road", "town") else 2} for p in parts]
    return JSONResponse(_tileset(base, "", "底图 Basemap", "离线矢量底图：用地、道路、社区/村与镇界",
                                 vector, 8, 18, await town_extent(state.tile_pool)))


@_errors
async def dataset_tile(request: Request) -> Response:
    return await _tile_response(request, BASEMAP)


@lru_cache(maxsize=1)
def _webmercatorquad() -> dict:
    """WebMercatorQuad as OGC 2D Tile Matrix Set 2.0 JSON (pygeoapi's copy), plus the keys of its 1.0
    encoding (`type`, `identifier`, `supportedCRS`, `boundingBox`, per matrix `identifier` and
    `topLeftCorner`): GDAL 3.6's OGCAPI driver reads only those and refuses the 2.0 document."""
    import pygeoapi

    path = Path(pygeoapi.__file__).parent / "resources" / "definitions" / "tiles" / "WebMercatorQuad.json"
    doc = json.loads(path.read_text())
    half = WORLD / 2
    doc.update({"type": "TileMatrixSetType", "identifier": doc["id"], "supportedCRS": doc["crs"],
                "boundingBox": {"type": "BoundingBoxType", "crs": doc["crs"],
                                "lowerCorner": [-half, -half], "upperCorner": [half, half]}})
    for matrix in doc["tileMatrices"]:
        matrix.update({"type": "TileMatrixType", "identifier": matrix["id"], "topLeftCorner": matrix["pointOfOrigin"]})
    return doc


@_errors
async def tile_matrix_sets(request: Request) -> JSONResponse:
    _check_query(request, {"json"})
    base = _ogc_base(request)
    return JSONResponse({"tileMatrixSets": [{"id": TMS_ID, "title": "Google Maps Compatible for the World",
                                             "uri": TMS_URI, "links": [
                                                 {"rel": "self", "type": "application/json",
                                                  "href": f"{base}/tileMatrixSets/{TMS_ID}"}]}]})


@_errors
async def tile_matrix_set(request: Request) -> JSONResponse:
    _tms(request)
    _check_query(request, {"json"})
    return JSONResponse(_webmercatorquad())


# ------------------------------------------------------------------ discovery (OGC API - Tiles 1.0)

TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
# what /conformance adds for these routes (Tiles 1.0 and the 2D tile matrix set they use)
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]


def landing_links(base: str) -> list[dict]:
    """The landing page's links to the basemap's tilesets and the tile matrix sets."""
    return [{"rel": TILESETS_VECTOR, "type": "application/json", "title": "底图矢量瓦片 Vector tilesets of the basemap",
             "href": f"{base}/tiles?f=json"},
            {"rel": TILING_SCHEMES, "type": "application/json", "title": "瓦片矩阵集 Tile matrix sets",
             "href": f"{base}/tileMatrixSets?f=json"}]


def collection_links(base: str, collection_id: str) -> list[dict]:
    """A tiled collection's link to its tilesets (none for the others)."""
    layer = LAYERS.get(collection_id)
    if layer is None:
        return []
    return [{"rel": TILESETS_VECTOR, "type": "application/json", "title": f"{layer.spec.title} 矢量瓦片 vector tilesets",
             "href": f"{base}/collections/{collection_id}/tiles?f=json"}]


routes = [
    Route("/collections/{collection_id}/tiles", collection_tilesets),
    Route("/collections/{collection_id}/tiles/{tms}", collection_tileset),
    Route("/collections/{collection_id}/tiles/{tms}/{z}/{y}/{x}", collection_tile),
    Route("/tiles", dataset_tilesets),
    Route("/tiles/{tms}", dataset_tileset),
    Route("/tiles/{tms}/{z}/{y}/{x}", dataset_tile),
    Route("/tileMatrixSets", tile_matrix_sets),
    Route("/tileMatrixSets/{tms}", tile_matrix_set),
]


# ------------------------------------------------------------------ measurement helpers (tests, bench)

def densest_tile(conn, collection_id: str, z: int) -> tuple[int, int, int, int]:
    """(z, x, y, count) of the tile holding most features of a point collection (sync connection)."""
    from psycopg import sql

    table = LAYERS[collection_id].spec.source
    row = conn.execute(sql.SQL(
        "SELECT floor((ST_X(p) + {half}) / {w})::int AS x, floor(({half} - ST_Y(p)) / {w})::int AS y, count(*) AS n "
        "FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) AS p FROM {t} WHERE geom IS NOT NULL) s "
        "GROUP BY 1, 2 ORDER BY n DESC LIMIT 1").format(
            half=sql.Literal(WORLD / 2), w=sql.Literal(tile_width(z)), t=sql.Identifier(table))).fetchone()
    if row is None:
        raise NotFound(f"{collection_id} has no features")
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return z, values[0], values[1], values[2]
