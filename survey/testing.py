"""Builders for survey tests and the benchmark: a tiny town with unit grids and departments, and
synthetic survey rows inside it. Kept in the package so tests and bench/survey share one truth.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from civicgrid.db import connect

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

TOWN = "110113102"
# town box (lon/lat, EPSG:4490): 4 km × 3.3 km around Renhe's latitude, inside 3° zone 39
WEST, SOUTH, EAST, NORTH = 116.600, 40.100, 116.648, 40.130
COLS, ROWS = 4, 3          # unit grids per community: COLS × ROWS; two communities side by side


def uscc(body17: str) -> str:
    """A unified social credit code with its check character (GB 32100-2015)."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(body17, USCC_WEIGHTS))
    return body17 + USCC_ALPHABET[(31 - total % 31) % 31]


DEPT = uscc("11110113MB0000001")       # 仁和镇城市管理办公室 (synthetic)
OTHER_DEPT = uscc("11110113MB0000002")  # 顺义区路灯管理所 (synthetic)


def _box(w, s, e, n) -> str:
    return f"MULTIPOLYGON((({w} {s},{e} {s},{e} {n},{w} {n},{w} {s})))"


def grid_boxes() -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """(community code, unit grid code, (w, s, e, n)) for every unit grid of the tiny town."""
    out = []
    mid = (WEST + EAST) / 2
    for ci, (w0, e0) in enumerate([(WEST, mid), (mid, EAST)]):
        community = f"{TOWN}{ci + 1:03d}"
        dx, dy = (e0 - w0) / COLS, (NORTH - SOUTH) / ROWS
        serial = 0
        for r in range(ROWS):            # north → south, west → east
            for c in range(COLS):
                serial += 1
                box = (w0 + c * dx, NORTH - (r + 1) * dy, w0 + (c + 1) * dx, NORTH - r * dy)
                out.append((community, f"{community}{serial:03d}", box))
    return out


def build_town(url: str) -> None:
    """Insert the tiny town, its two communities, 24 unit grids and two departments."""
    mid = (WEST + EAST) / 2
    with connect(url) as conn, conn.transaction():
        conn.execute("INSERT INTO town VALUES (%s, '仁和镇', ST_GeomFromText(%s, 4490))",
                     [TOWN, _box(WEST, SOUTH, EAST, NORTH)])
        for i, (w, e, name, kind) in enumerate([(WEST, mid, '仁和社区', '社区'), (mid, EAST, '沙井村', '村')]):
            conn.execute("INSERT INTO community VALUES (%s, %s, %s, %s, ST_GeomFromText(%s, 4490))",
                         [f"{TOWN}{i + 1:03d}", TOWN, name, kind, _box(w, SOUTH, e, NORTH)])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO unit_grid (code, community_code, geom) VALUES (%s, %s, ST_GeomFromText(%s, 4490))",
                            [(g, c, _box(*b)) for c, g, b in grid_boxes()])
        conn.execute("INSERT INTO department (code, name) VALUES (%s, '仁和镇城市管理办公室'), (%s, '顺义区路灯管理所')",
                     [DEPT, OTHER_DEPT])


def catalog(url: str, standard: str = "GB/T 47678.5-2026", kind: str | None = "point") -> list[tuple[str, str]]:
    with connect(url) as conn:
        return [(r["code"], r["name"]) for r in conn.execute(
            "SELECT code, name FROM code_catalog WHERE standard = %s AND kind = 'component' "
            "AND (%s::text IS NULL OR geometry_kind = %s) ORDER BY code", [standard, kind, kind])]


def synthetic_rows(n: int, classes: list[tuple[str, str]], *, seed: int = 1, with_ids: bool = False,
                   boxes=None, dept: str = DEPT) -> pd.DataFrame:
    """n valid point components spread over the unit grids (lon/lat), one row per component."""
    rng = np.random.default_rng(seed)
    boxes = boxes or grid_boxes()
    pick = rng.integers(0, len(boxes), n)
    # keep 2 m clear of grid edges so that no point sits on a boundary
    margin = 0.00003
    w = np.array([boxes[i][2][0] for i in pick]) + margin
    s = np.array([boxes[i][2][1] for i in pick]) + margin
    e = np.array([boxes[i][2][2] for i in pick]) - margin
    nn = np.array([boxes[i][2][3] for i in pick]) - margin
    lon = w + rng.random(n) * (e - w)
    lat = s + rng.random(n) * (nn - s)
    cls = rng.integers(0, len(classes), n)
    frame = pd.DataFrame({
        "LXDM": [classes[i][0] for i in cls],
        "GLBJMC": [classes[i][1] for i in cls],
        "ZGBMDM": dept,
        "ZGBMMC": "仁和镇城市管理办公室",
        "SZDYWGBSM": [boxes[i][1] for i in pick],
        "GLBJZT": "完好",
        "CSRQ": "20260915",
        "SJLY": "实测",
        "lon": np.round(lon, 9),
        "lat": np.round(lat, 9),
    })
    if with_ids:
        serial = frame.groupby("LXDM").cumcount() + 1
        frame.insert(0, "GLBJBSM", [f"110113{c}{s:06d}" for c, s in zip(frame["LXDM"], serial)])
    return frame


def demo_survey_frame(url: str, n_good: int = 6, serial: int = 900001, offset: int = 0) -> tuple[pd.DataFrame, dict]:
    """A small delivery on a loaded demo town (lon/lat): `n_good` valid point components with IDs
    (serials from `serial` on, clear of the demo's own) in distinct unit grids (from the `offset`-th
    grid on), then three broken
    rows — an invalid department code, a point outside the town, a status not in its code table.
    → (frame, {"dept_invalid": row_no, "outside": row_no, "status": row_no})."""
    with connect(url) as conn:
        dept = conn.execute("SELECT code, name FROM department WHERE uscc_is_valid(code) ORDER BY code LIMIT 1").fetchone()
        cls = conn.execute("SELECT code, name FROM code_catalog WHERE standard = 'GB/T 47678.5-2026' "
                           "AND kind = 'component' AND geometry_kind = 'point' ORDER BY code LIMIT 1").fetchone()
        grids = conn.execute(
            "SELECT code, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM unit_grid "
            "ORDER BY code LIMIT %s OFFSET %s) g", [n_good + 3, offset]).fetchall()
    rows = []
    for i, g in enumerate(grids):
        rows.append({"GLBJBSM": f"{g['code'][:6]}{cls['code']}{serial + i:06d}", "LXDM": cls["code"],
                     "GLBJMC": cls["name"], "ZGBMDM": dept["code"], "ZGBMMC": dept["name"],
                     "SZDYWGBSM": g["code"], "GLBJZT": "完好", "CSRQ": "20260915", "SJLY": "实测",
                     "lon": round(g["lon"], 9), "lat": round(g["lat"], 9)})
    frame = pd.DataFrame(rows)
    bad = {"dept_invalid": n_good + 1, "outside": n_good + 2, "status": n_good + 3}
    frame.loc[bad["dept_invalid"] - 1, "ZGBMDM"] = "BAD"
    frame.loc[bad["outside"] - 1, ["lon", "lat"]] = [117.5, 40.6]
    frame.loc[bad["status"] - 1, "GLBJZT"] = "半好"
    return frame, bad


def write_gpkg(frame: pd.DataFrame, path, epsg: int = 4527):
    """The frame as a GeoPackage of points in `epsg` (4527: CGCS2000 3° zone 39 with the zone number)."""
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(frame.lon, frame.lat),
                           crs=4490)
    gdf.to_crs(epsg).to_file(path, driver="GPKG", layer="部件")
    return path
