"""`cluster` (点聚合 / 聚类): DBSCAN of cases or components in EPSG:4548 (eps in metres).

Each cluster: member count, centroid, convex hull (a point or line hull is buffered by eps/2 so it
draws as an area), hull area and its most frequent categories. Points in no cluster are counted
as `noise`.

Two engines with the same output: `grid` (default) fetches the filtered points from PostgreSQL
in one row (WKB + labels) and runs an exact DBSCAN on a k-d tree in numpy/scipy (dbscan.py);
`postgis` runs ST_ClusterDBSCAN and the aggregation in SQL. On 100 000 cases the PostGIS window
function alone is slower than the 0.5 s target (bench/processes), so grid is the default; the
postgis engine stays as the reference the tests compare against.
"""
from __future__ import annotations

import json
import math
from typing import Literal

from psycopg import sql
from pydantic import Field

from civicgrid.db import load_sql
from civicgrid.processes.base import CivicProcessor
from civicgrid.processes.filters import SOURCES, SourceFilterParams, estimate_rows, source_where

PACKAGE = "civicgrid.processes"


class ClusterParams(SourceFilterParams):
    source: Literal["cases", "components"] = Field("cases", description="cases or components")
    eps: float = Field(50, gt=0, le=2000, description="neighbourhood radius in metres (EPSG:4548)")
    minpoints: int = Field(5, ge=1, le=10000, description="minimum points to form a cluster core")
    top: int = Field(3, ge=1, le=20, description="how many top categories per cluster")
    geometry: Literal["hull", "centroid"] = Field("hull", description="feature geometry: convex hull or centroid")
    engine: Literal["grid", "postgis"] = Field("grid", description="grid (numpy/scipy, fast) or postgis (ST_ClusterDBSCAN)")


class ClusterProcessor(CivicProcessor):
    id = "cluster"
    title = {"zh": "聚类分析", "en": "DBSCAN clusters"}
    description = {"zh": "案件或部件的 DBSCAN 聚类（EPSG:4548，eps 以米计）",
                   "en": "DBSCAN clusters of cases or components in EPSG:4548 (eps in metres)"}
    keywords = ["DBSCAN", "cluster", "聚类"]
    Params = ClusterParams
    outputs = {"clusters": {"title": "Clusters", "description": "GeoJSON: one feature per cluster",
                            "schema": {"type": "object", "contentMediaType": "application/geo+json"}}}
    example = {"inputs": {"source": "cases", "eps": 50, "minpoints": 5, "start": "2026-01-01T00:00:00+08:00"}}
    sync_cost_limits = {"rows": 500_000}
    # neighbour pairs of the k-d tree (16 bytes each, several copies while labelling)
    cost_limits = {"rows": 5_000_000, "neighbour pairs": 20_000_000}

    def input_size(self, p: ClusterParams, conn) -> int:
        return estimate_rows(conn, p)

    def cost(self, p: ClusterParams, conn) -> dict[str, tuple[int, str]]:
        spec = SOURCES[p.source]
        where = source_where(p, conn)
        q = sql.SQL(load_sql(PACKAGE, "cluster_pairs.sql")).format(
            point=sql.SQL(spec.point), table=sql.Identifier(spec.table), where=where.sql())
        # metres per degree near 40° N (Renhe): 85 km of longitude, 111 km of latitude
        row = conn.execute(q, {**where.params, "dx": p.eps / 85_000, "dy": p.eps / 111_000}).fetchone()
        return {"neighbour pairs": (int(math.pi / 2 * int(row["squares"] - row["points"])), "eps")}

    def run(self, p: ClusterParams, conn):
        if p.engine == "grid":
            return "application/geo+json", self.run_grid(p, conn)
        spec = SOURCES[p.source]
        where = source_where(p, conn)
        q = sql.SQL(load_sql(PACKAGE, "cluster.sql")).format(point=sql.SQL(spec.point), table=sql.Identifier(spec.table),
                                                    where=where.sql(), label=sql.SQL(spec.label))
        row = conn.execute(q, {**where.params, "eps": float(p.eps), "minpoints": p.minpoints, "top": p.top,
                               "geometry": p.geometry}).fetchone()
        return "application/geo+json", row["doc"]

    def run_grid(self, p: ClusterParams, conn) -> str:
        import numpy as np
        import shapely
        from pyproj import Transformer

        from civicgrid.processes.dbscan import dbscan

        spec = SOURCES[p.source]
        where = source_where(p, conn)
        q = sql.SQL(load_sql(PACKAGE, "cluster_points.sql")).format(point=sql.SQL(spec.point), table=sql.Identifier(spec.table),
                                                           where=where.sql(), label=sql.SQL(spec.label))
        row = conn.execute(q, where.params).fetchone()
        if not row["n"]:
            return json.dumps({"type": "FeatureCollection", "numberMatched": 0, "noise": 0, "features": []})
        lonlat = shapely.get_coordinates(shapely.from_wkb(bytes(row["wkb"])))
        xy = np.column_stack(Transformer.from_crs(4490, 4548, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1]))
        names, codes = np.unique(np.asarray(row["labels"], dtype=object).astype(str), return_inverse=True)
        labels = dbscan(xy, p.eps, p.minpoints)
        member = labels >= 0
        k = int(labels.max()) + 1 if member.any() else 0
        lab = labels[member]
        pts = xy[member]
        count = np.bincount(lab, minlength=k)
        cx = np.bincount(lab, weights=pts[:, 0], minlength=k) / np.maximum(count, 1)
        cy = np.bincount(lab, weights=pts[:, 1], minlength=k) / np.maximum(count, 1)
        order = np.argsort(lab, kind="stable")
        multipoints = shapely.multipoints(pts[order], indices=lab[order])
        hulls = shapely.convex_hull(multipoints)
        areas = shapely.area(hulls)
        if p.geometry == "hull":
            flat = shapely.get_dimensions(hulls) < 2
            hulls = np.where(flat, shapely.buffer(hulls, p.eps / 2, quad_segs=8), hulls)
            shapes = hulls
        else:
            shapes = shapely.points(cx, cy)
        to_lonlat = Transformer.from_crs(4548, 4490, always_xy=True)
        shapes = shapely.transform(shapes, lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1])))
        shapes = shapely.set_precision(shapes, 1e-7)
        clon, clat = to_lonlat.transform(cx, cy)
        # top categories: counts per (cluster, category), best first
        pair = lab.astype(np.int64) * len(names) + codes[member]
        upair, ucount = np.unique(pair, return_counts=True)
        pc, pk = upair // len(names), upair % len(names)
        rank = np.lexsort((names[pk], -ucount, pc))
        top: dict[int, list] = {}
        for i in rank:
            lst = top.setdefault(int(pc[i]), [])
            if len(lst) < p.top:
                lst.append({"code": str(names[pk[i]]), "count": int(ucount[i])})
        geojson = shapely.to_geojson(shapes)
        features = []
        for c in sorted(range(k), key=lambda c: (-count[c], c)):
            features.append({
                "type": "Feature", "id": c, "geometry": json.loads(geojson[c]),
                "properties": {"cluster": c, "count": int(count[c]),
                               "centroid": {"type": "Point", "coordinates": [round(clon[c], 7), round(clat[c], 7)]},
                               "area_m2": round(float(areas[c]), 1), "top_categories": top.get(c, [])}})
        return json.dumps({"type": "FeatureCollection", "numberMatched": k, "noise": int((~member).sum()),
                           "features": features}, ensure_ascii=False)
