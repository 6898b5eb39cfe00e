"""A synthetic imagery basemap (影像底图) drawn from our own data, for machines without a tile service.

The town's unit grids (coloured by 用地类别, each field or block with its own tint), roads, water and
random "buildings" in built-up grids are rasterised with rasterio into a Web Mercator image at
zoom `MAX_ZOOM`, with texture noise; the image is written as a GeoTIFF (for GIS staff) and cut into
256-pixel JPEG tiles for zooms MIN_ZOOM..MAX_ZOOM, packed into one PMTiles archive that the web
page reads with HTTP range requests. A real town replaces it with its own imagery.

The archive's name carries a digest of the data it was drawn from, so a reloaded town gets a new one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import numpy as np

from civicgrid.settings import get_settings

log = logging.getLogger("civicgrid.imagery")

MIN_ZOOM, MAX_ZOOM = 10, 16
TILE = 256
HALF_WORLD = 20037508.342789244
MARGIN_M = 1500.0   # imagery around the town (EPSG:3857 metres)

# base colours (R, G, B) of the land-use kinds of tiles_basemap_landuse.sql, as seen from above
KIND_COLOURS = {
    "water": (58, 84, 98), "farmland": (118, 134, 72), "green": (64, 96, 58), "industrial": (150, 148, 140),
    "commercial": (160, 152, 146), "urban": (146, 140, 132), "residential": (150, 136, 116),
    "transport": (170, 168, 160), "other": (128, 132, 96),
}
ROAD_WIDTH_M = {"arterial": 18.0, "street": 10.0, "lane": 5.0}   # demo_road.class
OUTSIDE = (112, 124, 80)

_lock = threading.Lock()


def _kind(land_use: str | None) -> str:
    text = land_use or ""
    for kind, keys in (("water", "水"), ("farmland", "耕农田菜"), ("green", "绿林园"), ("industrial", "工仓"),
                       ("commercial", "商办"), ("urban", "城"), ("residential", "住居宅村"), ("transport", "道交")):
        if any(k in text for k in keys):
            return kind
    return "other"


def _columns(conn, table: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = 'public'",
        [table])}


def source_digest(conn) -> str | None:
    """A digest of what the imagery is drawn from; None before a town is loaded."""
    row = conn.execute(
        "SELECT md5(string_agg(ST_AsEWKT(geom), ';' ORDER BY code)) FROM town").fetchone()
    if row is None or row[0] is None:
        return None
    grids = conn.execute("SELECT count(*), md5(string_agg(code || coalesce(land_use, ''), ',' ORDER BY code)) "
                         "FROM unit_grid").fetchone()
    roads = conn.execute("SELECT count(*) FROM demo_road").fetchone()[0] \
        if conn.execute("SELECT to_regclass('demo_road')").fetchone()[0] else 0
    return hashlib.sha1(f"{row[0]}|{grids[0]}|{grids[1]}|{roads}|v1".encode()).hexdigest()[:16]


def archive_path(digest: str) -> Path:
    return get_settings().data_dir / "basemap" / f"imagery-{digest}.pmtiles"


def _tile_range(bounds, z: int) -> tuple[int, int, int, int]:
    width = 2 * HALF_WORLD / (1 << z)
    x0 = int((bounds[0] + HALF_WORLD) // width)
    x1 = int((bounds[2] + HALF_WORLD) // width)
    y0 = int((HALF_WORLD - bounds[3]) // width)
    y1 = int((HALF_WORLD - bounds[1]) // width)
    return x0, y0, x1, y1


def _smooth_noise(rng, shape, cell: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid, bilinearly enlarged."""
    h, w = shape
    coarse = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = coarse[y0][:, x0]
    b = coarse[y0][:, x0 + 1]
    c = coarse[y0 + 1][:, x0]
    d = coarse[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _encode_jpeg(rgb: np.ndarray) -> bytes:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with mem.open(driver="JPEG", width=rgb.shape[2], height=rgb.shape[1], count=3, dtype="uint8",
                      QUALITY=82) as dst:
            dst.write(rgb)
        return mem.read()


def render(conn, seed: int = 11) -> tuple[np.ndarray, object, tuple[float, float, float, float], tuple[int, int]]:
    """The imagery at MAX_ZOOM as a (3, h, w) uint8 array, its affine transform, bounds, tile origin."""
    import shapely
    from psycopg import sql
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    town = conn.execute("SELECT ST_AsBinary(ST_Transform(ST_Union(geom), 3857)) FROM town").fetchone()[0]
    if town is None:
        raise LookupError("no town loaded: nothing to draw imagery from")
    town = shapely.from_wkb(bytes(town))
    minx, miny, maxx, maxy = town.bounds
    x0, y0, x1, y1 = _tile_range((minx - MARGIN_M, miny - MARGIN_M, maxx + MARGIN_M, maxy + MARGIN_M), MAX_ZOOM)
    res = 2 * HALF_WORLD / (1 << MAX_ZOOM) / TILE
    width, height = (x1 - x0 + 1) * TILE, (y1 - y0 + 1) * TILE
    west = x0 * TILE * res - HALF_WORLD
    north = HALF_WORLD - y0 * TILE * res
    transform = from_origin(west, north, res, res)
    shape = (height, width)

    grids = conn.execute("SELECT ST_AsBinary(ST_Transform(geom, 3857)), land_use FROM unit_grid "
                         "WHERE valid_to IS NULL OR valid_to >= current_date ORDER BY code").fetchall()
    # one palette entry per grid: the land-use colour with its own tint (fields differ from each other)
    palette = np.zeros((len(grids) + 1, 3), dtype=np.float32)
    palette[0] = OUTSIDE
    kinds = []
    for i, (_, land_use) in enumerate(grids, start=1):
        kind = _kind(land_use)
        kinds.append(kind)
        tint = rng.normal(0, 10 if kind in ("farmland", "green", "other") else 5, 3)
        if kind == "farmland":
            tint += rng.choice([[0, 0, 0], [18, 8, -6], [-14, 6, -10], [26, 16, 8]])
        palette[i] = np.array(KIND_COLOURS[kind]) + tint
    geoms = [shapely.from_wkb(bytes(g)) for g, _ in grids]
    index = rasterize(((g, i) for i, g in enumerate(geoms, start=1)), out_shape=shape, transform=transform,
                      fill=0, dtype="int32") if geoms else np.zeros(shape, dtype="int32")
    img = palette[index]                                          # (h, w, 3) float32

    # buildings: small roofs inside built-up grids
    built = [g for g, k in zip(geoms, kinds) if k in ("urban", "residential", "commercial", "industrial")]
    roofs = []
    for g in built:
        gx0, gy0, gx1, gy1 = g.bounds
        for _ in range(int(min(40, g.area / 900))):
            cx, cy = rng.uniform(gx0, gx1), rng.uniform(gy0, gy1)
            w, h = rng.uniform(10, 28), rng.uniform(8, 18)
            box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if g.contains(box):
                roofs.append((box, int(rng.integers(1, 5))))
    if roofs:
        roof = rasterize(roofs, out_shape=shape, transform=transform, fill=0, dtype="uint8")
        roof_colours = np.array([[0, 0, 0], [178, 90, 72], [196, 192, 184], [120, 128, 138], [150, 110, 90]],
                                dtype=np.float32)
        mask = roof > 0
        img[mask] = roof_colours[roof[mask]]

    # water and roads drawn over the land (demo tables, when the demo town is loaded)
    for table, width_m, colour in (("demo_water", None, KIND_COLOURS["water"]), ("demo_road", 1.0, (206, 204, 196))):
        if not conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]:
            continue
        cols = _columns(conn, table)
        cls = next((c for c in ("class", "kind", "road_class", "grade") if c in cols), None)
        rows = conn.execute(sql.SQL("SELECT ST_AsBinary(ST_Transform(geom, 3857)), {} FROM {}").format(
            sql.Identifier(cls) if cls else sql.NULL, sql.Identifier(table))).fetchall()
        shapes = []
        for wkb, c in rows:
            g = shapely.from_wkb(bytes(wkb))
            if width_m is not None:
                # EPSG:3857 metres are about 1.31 ground metres here
                g = g.buffer(ROAD_WIDTH_M.get(c, 7.0) * 0.66 * 1.31, cap_style="flat")
            shapes.append((g, 1))
        if shapes:
            mask = rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8") > 0
            img[mask] = colour

    # texture: broad light variation and fine grain
    img *= (1 + 0.08 * _smooth_noise(rng, shape, 96))[..., None]
    img += rng.normal(0, 5, img.shape).astype(np.float32)
    rgb = np.clip(img, 0, 255).astype(np.uint8).transpose(2, 0, 1)
    return rgb, transform, (west, north - height * res, west + width * res, north), (x0, y0)


def build(conn, path: Path) -> Path:
    """Draw the imagery, write a GeoTIFF beside the archive and the PMTiles archive itself."""
    import rasterio
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer
    from pyproj import Transformer

    rgb, transform, bounds, (tx0, ty0) = render(conn)
    path.parent.mkdir(parents=True, exist_ok=True)
    tif = path.with_suffix(".tif")
    with rasterio.open(tif, "w", driver="GTiff", width=rgb.shape[2], height=rgb.shape[1], count=3, dtype="uint8",
                       crs="EPSG:3857", transform=transform, compress="jpeg", photometric="ycbcr",
                       tiled=True) as dst:
        dst.write(rgb)

    tiles: dict[int, bytes] = {}
    level = rgb.astype(np.float32)
    ox, oy = tx0, ty0
    for z in range(MAX_ZOOM, MIN_ZOOM - 1, -1):
        _, h, w = level.shape
        as_bytes = np.clip(level, 0, 255).astype(np.uint8)
        for j in range(h // TILE):
            for i in range(w // TILE):
                tile = as_bytes[:, j * TILE:(j + 1) * TILE, i * TILE:(i + 1) * TILE]
                tiles[zxy_to_tileid(z, ox + i, oy + j)] = _encode_jpeg(tile)
        if z == MIN_ZOOM:
            break
        # the next zoom out: pad to even tile counts aligned with the parent grid, then average 2×2
        pad_l, pad_t = (ox % 2) * TILE, (oy % 2) * TILE
        pad_r = ((w + pad_l) // TILE % 2) * TILE
        pad_b = ((h + pad_t) // TILE % 2) * TILE
        level = np.pad(level, ((0, 0), (pad_t, pad_b), (pad_l, pad_r)), mode="edge")
        level = level.reshape(3, level.shape[1] // 2, 2, level.shape[2] // 2, 2).mean(axis=(2, 4))
        ox, oy = (ox - ox % 2) // 2, (oy - oy % 2) // 2

    to_ll = Transformer.from_crs(3857, 4326, always_xy=True)
    west, south = to_ll.transform(bounds[0], bounds[1])
    east, north = to_ll.transform(bounds[2], bounds[3])
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        writer = Writer(f)
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        writer.finalize({
            "tile_type": TileType.JPEG, "tile_compression": Compression.NONE,
            "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
            "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
            "center_zoom": 13, "center_lon_e7": int((west + east) / 2 * 1e7),
            "center_lat_e7": int((south + north) / 2 * 1e7),
        }, {"name": "civicgrid synthetic imagery", "attribution": "civicgrid 合成影像（非真实影像）",
            "description": json.dumps({"source": "unit_grid, demo_road, demo_water", "crs": "EPSG:3857"})})
    tmp.replace(path)
    log.info("imagery: %d tiles, %.1f MB in %s", len(tiles), path.stat().st_size / 1e6, path)
    return path


def ensure(url: str | None = None, force: bool = False) -> Path:
    """The imagery archive for the database's current town, built when missing (or when forced)."""
    from psycopg.rows import tuple_row

    from civicgrid.db import connect

    with connect(url, row_factory=tuple_row) as conn:
        digest = source_digest(conn)
        if digest is None:
            raise LookupError("no town loaded: nothing to draw imagery from")
        path = archive_path(digest)
        with _lock:
            if force or not path.exists():
                for old in path.parent.glob("imagery-*"):
                    old.unlink(missing_ok=True)
                build(conn, path)
    return path
