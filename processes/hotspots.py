"""`hotspots` (热点分析): Getis-Ord Gi* over square cells or unit grids, with z-scores and p-values.

Weights are binary and include the unit itself (Gi*, "star"): queen contiguity (cells sharing an
edge or a corner; unit grids sharing any boundary point), or a distance band in metres between
cell centres / unit-grid inner points. The statistic (Getis & Ord 1995, as in ArcGIS and PySAL's
`G_Local(star=True)` with binary weights):

    Gi* = (Σj wij xj − x̄ Σj wij) / (S √((n Σj wij² − (Σj wij)²) / (n − 1)))
    x̄ = Σ x / n,  S = √(Σ x² / n − x̄²)

p-values are two-sided from the standard normal. `bin` follows ArcGIS: ±3 at 99 %, ±2 at 95 %,
±1 at 90 % confidence, 0 otherwise (no multiple-testing correction; see `fdr` to apply
Benjamini–Hochberg).
"""
from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
from psycopg import sql
from pydantic import Field

from civicgrid.db import load_sql
from civicgrid.processes.base import CivicProcessor, InvalidProcessInput
from civicgrid.processes.filters import (
    SOURCES,
    SourceFilterParams,
    area_box_4548,
    area_sql,
    area_where,
    box_cells,
    estimate_rows,
    source_where,
)

PACKAGE = "civicgrid.processes"


class HotspotParams(SourceFilterParams):
    units: Literal["cells", "unit_grids"] = Field("cells", description="square cells or unit grids (单元网格)")
    cell_size: float = Field(200, ge=50, le=5000, description="cell size in metres (units=cells)")
    neighbours: Literal["queen", "distance"] = Field("queen", description="queen contiguity or a distance band")
    distance: float = Field(500, gt=0, le=20000, description="distance band in metres (neighbours=distance)")
    fdr: bool = Field(False, description="apply the Benjamini–Hochberg false discovery rate to the bins")


def gi_star(x: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided p-values; `pairs` are (i, j) neighbour index pairs, each once, i ≠ j."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 3:
        return np.zeros(n), np.ones(n)
    # binary weights with self: lag = x_i + Σ neighbours, wsum = 1 + degree, w² sum = wsum
    lag = x.copy()
    deg = np.ones(n)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        np.add.at(lag, i, x[j])
        np.add.at(lag, j, x[i])
        np.add.at(deg, i, 1)
        np.add.at(deg, j, 1)
    mean = x.mean()
    s = math.sqrt(max((x * x).mean() - mean * mean, 0.0))
    if s == 0:
        return np.zeros(n), np.ones(n)
    denom = s * np.sqrt((n * deg - deg * deg) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(denom > 0, (lag - mean * deg) / denom, 0.0)
    p = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in z])
    return z, p


def confidence_bins(z: np.ndarray, p: np.ndarray, fdr: bool = False) -> np.ndarray:
    levels = [(0.01, 3), (0.05, 2), (0.10, 1)]
    bins = np.zeros(len(z), dtype=int)
    for alpha, b in reversed(levels):
        if fdr:
            order = np.argsort(p)
            ranked = p[order]
            ok = ranked <= alpha * (np.arange(1, len(p) + 1) / len(p))
            cutoff = ranked[ok].max() if ok.any() else -1.0
            significant = p <= cutoff
        else:
            significant = p <= alpha
        bins = np.where(significant, b * np.sign(z).astype(int), bins)
    return bins


def queen_pairs_cells(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    index = {(a, b): k for k, (a, b) in enumerate(zip(ix.tolist(), iy.tolist()))}
    out = []
    for k, (a, b) in enumerate(zip(ix.tolist(), iy.tolist())):
        for da, db in ((1, -1), (1, 0), (1, 1), (0, 1)):   # each pair once
            other = index.get((a + da, b + db))
            if other is not None:
                out.append((k, other))
    return np.asarray(out, dtype=int).reshape(-1, 2)


def distance_pairs(x: np.ndarray, y: np.ndarray, d: float) -> np.ndarray:
    """Pairs within d metres, by bucketing into d-sized squares (no full n² matrix)."""
    buckets: dict[tuple[int, int], list[int]] = {}
    bx, by = np.floor(x / d).astype(int), np.floor(y / d).astype(int)
    for k, key in enumerate(zip(bx.tolist(), by.tolist())):
        buckets.setdefault(key, []).append(k)
    out = []
    for (a, b), members in buckets.items():
        cand = [m for da in (-1, 0, 1) for db in (-1, 0, 1) for m in buckets.get((a + da, b + db), [])]
        cand = np.asarray(cand)
        for k in members:
            c = cand[cand > k]
            close = c[(x[c] - x[k]) ** 2 + (y[c] - y[k]) ** 2 <= d * d]
            out.extend((k, int(j)) for j in close)
    return np.asarray(out, dtype=int).reshape(-1, 2)


class HotspotsProcessor(CivicProcessor):
    id = "hotspots"
    title = {"zh": "热点分析", "en": "Hot and cold spots (Getis-Ord Gi*)"}
    description = {"zh": "基于 Getis-Ord Gi* 的冷热点分析（方格或单元网格），输出 z 值与 p 值",
                   "en": "Statistically significant hot and cold spots (Getis-Ord Gi*) over square cells or unit grids, "
                         "with z-scores and p-values"}
    keywords = ["Getis-Ord", "Gi*", "hotspot", "热点"]
    Params = HotspotParams
    outputs = {"hotspots": {"title": "Hotspots", "description": "GeoJSON: count, z, p and bin per cell or unit grid",
                            "schema": {"type": "object", "contentMediaType": "application/geo+json"}}}
    example = {"inputs": {"source": "cases", "units": "cells", "cell_size": 200}}
    sync_cost_limits = {"rows": 1_000_000}
    # the neighbour pairs are built in memory (≈ 100 bytes each while they are collected)
    cost_limits = {"rows": 20_000_000, "cells": 200_000, "neighbour pairs": 2_000_000}

    def input_size(self, p: HotspotParams, conn) -> int:
        return estimate_rows(conn, p)

    def cost(self, p: HotspotParams, conn) -> dict[str, tuple[int, str]]:
        """Cells of the study area's box, and neighbour pairs: queen contiguity has at most 4 per
        unit; a distance band about π·d² / (area per unit) per unit, at most every other unit."""
        if p.units == "cells":
            n = self._cell_count(p, conn)
            per_unit = math.pi * (p.distance / p.cell_size) ** 2
            out = {"cells": (n, "cell_size")}
        else:
            grid_where = area_where(p, "g.geom", conn=conn)
            row = conn.execute(sql.SQL("SELECT count(*) AS n, coalesce(sum(ST_Area(ST_Transform(g.geom, 4548))), 0) AS a "
                                       "FROM unit_grid g WHERE {}").format(grid_where.sql()), grid_where.params).fetchone()
            n = row["n"]
            per_unit = math.pi * p.distance ** 2 / (row["a"] / n) if n and row["a"] else 0
            out = {}
        per_unit = 4 if p.neighbours == "queen" else min(max(n - 1, 0), per_unit)
        out["neighbour pairs"] = (int(n * per_unit / (1 if p.neighbours == "queen" else 2)),
                                  "cell_size" if p.units == "cells" and p.neighbours == "queen" else "distance")
        return out

    def run(self, p: HotspotParams, conn):
        spec = SOURCES[p.source]
        where = source_where(p, conn)
        if p.units == "cells":
            area, _ = area_sql(p)
            q = sql.SQL(load_sql(PACKAGE, "hotspots_cells.sql")).format(area=sql.SQL(area), point=sql.SQL(spec.point),
                                                               table=sql.Identifier(spec.table), where=where.sql())
            rows = conn.execute(q, {**where.params, "size": float(p.cell_size)}).fetchall()
            ix = np.array([r["ix"] for r in rows], dtype=int)
            iy = np.array([r["iy"] for r in rows], dtype=int)
            ids = [f"{a}_{b}" for a, b in zip(ix, iy)]
            if p.neighbours == "queen":
                pairs = queen_pairs_cells(ix, iy)
            else:
                pairs = distance_pairs((ix + 0.5) * p.cell_size, (iy + 0.5) * p.cell_size, p.distance)
        else:
            grid_where = area_where(p, "g.geom", conn=conn)
            q = sql.SQL(load_sql(PACKAGE, "hotspots_grids.sql")).format(grid_where=grid_where.sql(), point=sql.SQL(spec.point),
                                                               table=sql.Identifier(spec.table), where=where.sql())
            rows = conn.execute(q, {**where.params, **grid_where.params}).fetchall()
            ids = [r["code"] for r in rows]
            if p.neighbours == "queen":
                pos = {c: k for k, c in enumerate(ids)}
                links = conn.execute(load_sql(PACKAGE, "hotspots_grid_neighbours.sql"), {"codes": ids}).fetchall()
                pairs = np.asarray([(pos[r["a"]], pos[r["b"]]) for r in links], dtype=int).reshape(-1, 2)
            else:
                pairs = distance_pairs(np.array([r["x"] for r in rows]), np.array([r["y"] for r in rows]), p.distance)
        counts = np.array([r["n"] for r in rows], dtype=float)
        z, pv = gi_star(counts, pairs)
        bins = confidence_bins(z, pv, p.fdr)
        features = [
            {"type": "Feature", "id": ids[k], "geometry": json.loads(rows[k]["geom"]),
             "properties": {"id": ids[k], "count": int(counts[k]), "z": round(float(z[k]), 4),
                            "p": round(float(pv[k]), 6), "bin": int(bins[k])}}
            for k in range(len(rows))
        ]
        doc = {"type": "FeatureCollection", "numberMatched": len(features), "units": p.units,
               "hot": int((bins > 0).sum()), "cold": int((bins < 0).sum()), "features": features}
        return "application/geo+json", json.dumps(doc, ensure_ascii=False)

    @staticmethod
    def _cell_count(p: HotspotParams, conn) -> int:
        box = area_box_4548(conn, p)
        if box is None:
            raise InvalidProcessInput("no study area: the town has no boundary yet and no area was given", field="bbox")
        return box_cells(box, p.cell_size ** 2)
