"""`heatmap` (热力图): counts of cases, components or officer positions per cell.

Methods
- square: cells of `cell_size` metres in EPSG:4548 (origin 0,0, so cells of the same size line up
  across requests). Officer positions with a cell size that is a multiple of 50 m and no area or
  officer filter are read from the roll-ups kept by triggers on officer_position (migrations
  0300–0302): whole months from `position_cell_month`, whole days from `position_cell_day`, and
  only the partial days at the ends of the window from the raw rows — exact counts, at a cost that
  follows the number of occupied cells, not the number of fixes.
- hexagon: PostGIS hexagons (`ST_HexagonGrid`) of edge `cell_size` metres in EPSG:4548.
- h3: Uber H3 cells of `h3_resolution`.
- kde: Gaussian kernel density (`bandwidth` metres) on a `cell_size` raster in EPSG:4548, as
  GeoTIFF (float32, points per km²) or a PNG preview.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

import numpy as np
from psycopg import sql
from psycopg.rows import tuple_row
from pydantic import Field, model_validator

from civicgrid.db import load_sql
from civicgrid.processes.base import CivicProcessor
from civicgrid.processes.filters import SOURCES, SourceFilterParams, area_box_4548, box_cells, estimate_rows, source_where

PACKAGE = "civicgrid.processes"

LOCAL = ZoneInfo("Asia/Shanghai")
ROLLUP_CELL = 50


class HeatmapParams(SourceFilterParams):
    method: Literal["square", "hexagon", "h3", "kde"] = Field("square", description="square, hexagon, h3 or kde")
    cell_size: float = Field(100, ge=10, le=5000, description="square/hexagon/raster cell size in metres (EPSG:4548)")
    h3_resolution: int = Field(9, ge=5, le=13, description="H3 resolution (method h3)")
    bandwidth: float = Field(200, ge=10, le=5000, description="Gaussian kernel sigma in metres (method kde)")
    format: Literal["geojson", "geotiff", "png"] = Field("geojson", description="geojson for cells; geotiff or png for kde")

    @model_validator(mode="after")
    def _format_fits(self):
        if self.method == "kde" and self.format == "geojson":
            raise ValueError("format: method kde gives a raster; ask for format geotiff or png")
        if self.method != "kde" and self.format != "geojson":
            raise ValueError(f"format: method {self.method} gives GeoJSON cells; rasters need method kde")
        return self


def _local_midnight(d) -> datetime:
    return datetime.combine(d, time(0), LOCAL)


FAR_PAST, FAR_FUTURE = date(1970, 1, 1), date(2200, 1, 1)


def rollup_window(start: datetime | None, end: datetime | None) -> dict:
    """Split [start, end) into raw edges and whole local days and months for the roll-ups.

    Raw rows: [start, t0) and [t1, end); days: [d0, m0) and [m1, d1); months: [m0, m1).
    """
    if start is None:
        d0 = FAR_PAST
        start = t0 = _local_midnight(d0)
    else:
        local = start.astimezone(LOCAL)
        d0 = local.date() if local.timetz().replace(tzinfo=None) == time(0) else local.date() + timedelta(days=1)
        t0 = _local_midnight(d0)
    if end is None:
        d1 = FAR_FUTURE
        end = t1 = _local_midnight(d1)
    else:
        d1 = end.astimezone(LOCAL).date()
        t1 = _local_midnight(d1)
    if d1 <= d0:
        # no whole day inside: all from the raw rows
        return {"start": start, "end": end, "t0": end, "t1": end, "d0": d0, "d1": d0, "m0": d0, "m1": d0}
    m0 = d0 if d0.day == 1 else (d0.replace(day=28) + timedelta(days=4)).replace(day=1)
    m1 = d1.replace(day=1)
    if m1 <= m0:
        m0 = m1 = d1      # no whole month: days [d0, d1) from the day level
    return {"start": start, "end": end, "t0": t0, "t1": t1, "d0": d0, "d1": d1, "m0": m0, "m1": m1}


class HeatmapProcessor(CivicProcessor):
    id = "heatmap"
    title = {"zh": "热力图", "en": "Heatmap"}
    description = {"zh": "按方格、六边形、H3 或核密度统计案件、部件或网格员位置",
                   "en": "Cases, components or officer positions counted per square, hexagon or H3 cell, or as a kernel density raster"}
    keywords = ["heatmap", "热力图", "kernel density"]
    Params = HeatmapParams
    outputs = {"heatmap": {"title": "Heatmap", "description": "GeoJSON cells with counts, or a GeoTIFF/PNG raster",
                           "schema": {"oneOf": [{"type": "object", "contentMediaType": "application/geo+json"},
                                                {"type": "string", "contentEncoding": "binary",
                                                 "contentMediaType": "image/tiff; application=geotiff"},
                                                {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/png"}]}}}
    example = {"inputs": {"source": "cases", "method": "square", "cell_size": 200}}
    # per method: the most input rows a synchronous request may read, and cells it may build
    SYNC_LIMITS: ClassVar[dict] = {"square": {"rows": 3_000_000, "cells": 100_000},
                                   "hexagon": {"rows": 300_000, "cells": 100_000},
                                   "h3": {"rows": 300_000, "cells": 100_000},
                                   "kde": {"rows": 1_000_000, "raster cells": 4_000_000}}
    # cells: GeoJSON features (≈ 300 bytes each), or raster cells (float32, a few copies) for kde
    cost_limits = {"rows": 30_000_000, "cells": 500_000, "raster cells": 25_000_000}

    @staticmethod
    def uses_rollup(p: HeatmapParams) -> bool:
        return (p.source == "positions" and p.method == "square" and not p.has_area and not p.officer
                and abs(p.cell_size / ROLLUP_CELL - round(p.cell_size / ROLLUP_CELL)) < 1e-9)

    def input_size(self, p: HeatmapParams, conn) -> int | None:
        if self.uses_rollup(p):
            return None      # the roll-ups' cost follows the occupied cells, not the fixes
        return estimate_rows(conn, p)

    def sync_limits_for(self, p: HeatmapParams) -> dict[str, int]:
        return {**self.SYNC_LIMITS[p.method], **self.configured_sync}

    def cost(self, p: HeatmapParams, conn) -> dict[str, tuple[int, str]]:
        """Cells: for kde the raster over the study area (the points' extent is inside it) widened
        by 3 bandwidths (`raster cells`); otherwise the cells covering the area's box, at most one
        per row read (only occupied cells are written)."""
        box = area_box_4548(conn, p)
        if p.method == "kde":
            return {"raster cells": (box_cells(box, p.cell_size ** 2, pad=3 * p.bandwidth), "cell_size")}
        if p.method == "h3":
            import h3

            cell_area = h3.average_hexagon_area(p.h3_resolution, unit="m^2")
            field = "h3_resolution"
        else:
            cell_area = p.cell_size ** 2 * (3 * 3 ** 0.5 / 2 if p.method == "hexagon" else 1)
            field = "cell_size"
        cells = box_cells(box, cell_area)
        rows = self.input_size(p, conn)
        return {"cells": (cells if rows is None else min(cells, rows), field)}

    def run(self, p: HeatmapParams, conn):
        if p.method == "square":
            return "application/geo+json", self.square(p, conn)
        if p.method == "hexagon":
            return "application/geo+json", self.hexagon(p, conn)
        if p.method == "h3":
            return "application/geo+json", self.h3(p, conn)
        return self.kde(p, conn)

    # -- cells in SQL ----------------------------------------------------------------------
    def _query(self, template: str, p: HeatmapParams, conn, extra: dict) -> str:
        spec = SOURCES[p.source]
        where = source_where(p, conn)
        q = sql.SQL(load_sql(PACKAGE, template)).format(point=sql.SQL(spec.point), table=sql.Identifier(spec.table), where=where.sql())
        row = conn.execute(q, {**where.params, **extra}).fetchone()
        return row["doc"]

    def square(self, p: HeatmapParams, conn) -> str:
        if self.uses_rollup(p):
            window = rollup_window(p.start, p.end)
            k = int(round(p.cell_size / ROLLUP_CELL))
            row = conn.execute(load_sql(PACKAGE, "heatmap_square_rollup.sql"), {**window, "k": k, "size": float(p.cell_size)}).fetchone()
            return row["doc"]
        return self._query("heatmap_square.sql", p, conn, {"size": float(p.cell_size)})

    def hexagon(self, p: HeatmapParams, conn) -> str:
        return self._query("heatmap_hexagon.sql", p, conn, {"size": float(p.cell_size)})

    def points(self, p: HeatmapParams, conn) -> np.ndarray:
        spec = SOURCES[p.source]
        where = source_where(p, conn)
        q = sql.SQL(load_sql(PACKAGE, "points.sql")).format(point=sql.SQL(spec.point), table=sql.Identifier(spec.table), where=where.sql())
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(q, where.params)
            rows = cur.fetchall()
        return np.asarray(rows, dtype=float).reshape(-1, 4)

    def h3(self, p: HeatmapParams, conn) -> str:
        import h3

        pts = self.points(p, conn)
        counts: dict[str, int] = {}
        for lon, lat in pts[:, :2]:
            cell = h3.latlng_to_cell(lat, lon, p.h3_resolution)
            counts[cell] = counts.get(cell, 0) + 1
        features = []
        for cell, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            ring = [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]
            ring.append(ring[0])
            features.append({"type": "Feature", "id": cell, "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": {"h3": cell, "count": n}})
        return json.dumps({"type": "FeatureCollection", "numberMatched": len(features), "total": int(len(pts)),
                           "features": features}, ensure_ascii=False)

    # -- kernel density raster -------------------------------------------------------------
    def kde(self, p: HeatmapParams, conn):
        pts = self.points(p, conn)
        grid, transform = kernel_density(pts[:, 2:4], p.cell_size, p.bandwidth, self.extent_4548(p, conn, pts))
        if p.format == "geotiff":
            return "image/tiff; application=geotiff", write_geotiff(grid, transform)
        return "image/png", write_png(grid)

    def extent_4548(self, p: HeatmapParams, conn, pts: np.ndarray):
        if p.has_area:
            where = source_where(p, conn, with_time=False)
            # the area itself, not the points' extent, so an empty corner stays on the raster
            if p.bbox is not None:
                g = "ST_MakeEnvelope(%(bx0)s, %(by0)s, %(bx1)s, %(by1)s, 4490)"
            elif p.community is not None:
                g = "(SELECT geom FROM community WHERE code = %(community)s)"
            else:
                g = "ST_SetSRID(ST_GeomFromGeoJSON(%(polygon)s), 4490)"
            row = conn.execute(sql.SQL("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1 "
                                       "FROM (SELECT ST_Transform(" + g + ", 4548)::box2d AS e) s"), where.params).fetchone()
            return row["x0"], row["y0"], row["x1"], row["y1"]
        if len(pts) == 0:
            row = conn.execute("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1 "
                               "FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom), 4490), 4548)::box2d AS e FROM town) s").fetchone()
            if row["x0"] is None:
                return 0.0, 0.0, p.cell_size, p.cell_size
            return row["x0"], row["y0"], row["x1"], row["y1"]
        pad = 3 * p.bandwidth
        return pts[:, 2].min() - pad, pts[:, 3].min() - pad, pts[:, 2].max() + pad, pts[:, 3].max() + pad


def kernel_density(xy: np.ndarray, cell: float, sigma: float, extent) -> tuple[np.ndarray, "object"]:
    """Gaussian KDE on a grid: points binned per cell, then a separable Gaussian blur.

    Returns (density in points per km², rows from north to south) and the affine transform.
    """
    from rasterio.transform import from_origin

    x0, y0, x1, y1 = extent
    x0, y0 = np.floor(x0 / cell) * cell, np.floor(y0 / cell) * cell
    nx = max(1, int(np.ceil((x1 - x0) / cell)))
    ny = max(1, int(np.ceil((y1 - y0) / cell)))
    if nx * ny > 25_000_000:
        from civicgrid.processes.base import InvalidProcessInput

        raise InvalidProcessInput(f"cell_size: {cell} m gives a {nx}×{ny} raster, more than 25 million cells; use a larger cell",
                                  field="cell_size")
    hist, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=[nx, ny], range=[[x0, x0 + nx * cell], [y0, y0 + ny * cell]])
    radius = max(1, int(np.ceil(3 * sigma / cell)))
    offsets = np.arange(-radius, radius + 1) * cell
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    blurred = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, hist)
    blurred = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 1, blurred)
    density = blurred / (cell * cell) * 1e6          # points per km²
    grid = np.flipud(density.T).astype("float32")    # rows north → south
    return grid, from_origin(x0, y0 + ny * cell, cell, cell)


def write_geotiff(grid: np.ndarray, transform) -> bytes:
    from rasterio.io import MemoryFile

    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1, dtype="float32",
                      crs="EPSG:4548", transform=transform, compress="deflate", nodata=None) as ds:
            ds.write(grid, 1)
            ds.update_tags(units="points per km2")
        return mem.read()


def write_png(grid: np.ndarray) -> bytes:
    """A preview: transparent where nothing, then yellow → red by density (linear to the maximum)."""
    from rasterio.io import MemoryFile

    top = float(grid.max()) or 1.0
    t = np.clip(grid / top, 0, 1)
    rgba = np.zeros((4, *grid.shape), dtype="uint8")
    rgba[0] = 255
    rgba[1] = (255 * (1 - t)).astype("uint8")
    rgba[2] = 0
    rgba[3] = np.where(t > 0.02, (80 + 175 * t), 0).astype("uint8")
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    warnings.simplefilter("ignore", NotGeoreferencedWarning)
    with MemoryFile() as mem:
        with mem.open(driver="PNG", width=grid.shape[1], height=grid.shape[0], count=4, dtype="uint8") as ds:
            ds.write(rgba)
        return mem.read()
