"""Bench of the processes on the full demo town, beside the straightforward approaches.

One command (a scratch private cluster, demo at scale 1):

    CIVICGRID_DATA_DIR=/tmp/procbench CIVICGRID_PG_PORT=55003 .venv/bin/civicgrid db start
    CIVICGRID_DATA_DIR=/tmp/procbench CIVICGRID_PG_PORT=55003 .venv/bin/civicgrid db migrate
    CIVICGRID_DATA_DIR=/tmp/procbench CIVICGRID_PG_PORT=55003 .venv/bin/civicgrid demo load --if-empty
    CIVICGRID_DATA_DIR=/tmp/procbench CIVICGRID_PG_PORT=55003 .venv/bin/python bench/processes/run.py

The demo has ~1.3 M officer positions and 20 000 cases; the bench tops them up to 2 000 000
positions (a copy of the earliest fixes shifted 31 days back, inserted through the roll-up
triggers) and 100 000 cases (synthetic cases scattered around the demo's, tagged external_id
'bench-…', no events, so the evaluation is unchanged). Each timing is the median of `--repeat`
runs after one warm-up, wall clock from the caller's side, results fetched.

Needs the `bench` extra (scikit-learn) for the scikit-learn column.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from civicgrid.db import connect
from civicgrid.processes.cluster import ClusterProcessor
from civicgrid.processes.evaluation import AreaEvaluationProcessor
from civicgrid.processes.heatmap import HeatmapProcessor

TARGET_POSITIONS = 2_000_000
TARGET_CASES = 100_000


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()                                     # warm-up (caches, plans)
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def top_up(conn) -> dict:
    n_pos = conn.execute("SELECT count(*) AS n FROM officer_position").fetchone()["n"]
    if n_pos < TARGET_POSITIONS:
        first = conn.execute("SELECT min(recorded_at) AS t FROM officer_position").fetchone()["t"]
        conn.execute("SELECT ensure_position_partitions(%s::timestamptz - interval '62 days', %s::timestamptz)", [first, first])
        conn.execute("""
            INSERT INTO officer_position (officer_id, recorded_at, geom, accuracy_m, speed_mps)
            SELECT officer_id, recorded_at - interval '31 days', geom, accuracy_m, speed_mps
            FROM officer_position ORDER BY recorded_at LIMIT %s""", [TARGET_POSITIONS - n_pos])
        conn.commit()
    n_cases = conn.execute("SELECT count(*) AS n FROM cases").fetchone()["n"]
    if n_cases < TARGET_CASES:
        need = TARGET_CASES - n_cases
        town = conn.execute("SELECT code FROM town LIMIT 1").fetchone()["code"]
        # scatter around existing cases (σ 40 m), keep those that land in a unit grid of the town
        conn.execute("""
            CREATE TEMP TABLE bench_new AS
            SELECT row_number() OVER () AS k, c.channel, c.standard, c.category_kind, c.category_code, c.reported_at,
                   ST_Transform(ST_Translate(ST_Transform(c.geom, 4548),
                                             40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()),
                                             40 * sqrt(-2 * ln(1 - random())) * sin(2 * pi() * random())), 4490) AS geom
            FROM cases c, generate_series(1, %s) g
            WHERE c.geom IS NOT NULL AND (c.external_id IS NULL OR c.external_id NOT LIKE 'bench-%%')""",
            [int(need / max(n_cases, 1) * 1.3) + 1])     # copies per case, with room for the ones that fall outside
        conn.execute("""
            INSERT INTO cases (case_number, channel, standard, category_kind, category_code, state, is_closed,
                               unit_grid_code, community_code, reported_at, geom, external_id)
            SELECT %(town)s || to_char(n.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || (900000 + n.k)::text,
                   n.channel, n.standard, n.category_kind, n.category_code, 'closed', true, g.code, g.community_code,
                   n.reported_at, n.geom, 'bench-' || n.k
            FROM bench_new n
            JOIN LATERAL (SELECT code, community_code FROM unit_grid u WHERE ST_Intersects(u.geom, n.geom) LIMIT 1) g ON true
            ORDER BY n.k LIMIT %(need)s""", {"town": town, "need": need})
        conn.commit()
    conn.execute("ANALYZE officer_position; ANALYZE cases; ANALYZE position_cell_day; ANALYZE position_cell_month")
    conn.commit()
    return {"positions": conn.execute("SELECT count(*) AS n FROM officer_position").fetchone()["n"],
            "cases": conn.execute("SELECT count(*) AS n FROM cases").fetchone()["n"],
            "unit_grids": conn.execute("SELECT count(*) AS n FROM unit_grid").fetchone()["n"],
            "case_events": conn.execute("SELECT count(*) AS n FROM case_event").fetchone()["n"],
            "rollup_day_rows": conn.execute("SELECT count(*) AS n FROM position_cell_day").fetchone()["n"],
            "rollup_month_rows": conn.execute("SELECT count(*) AS n FROM position_cell_month").fetchone()["n"]}


def fetch_xy(conn, q: str) -> tuple[np.ndarray, np.ndarray]:
    from psycopg.rows import tuple_row
    from pyproj import Transformer

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(q)
        arr = np.asarray(cur.fetchall(), dtype=float)
    x, y = Transformer.from_crs(4490, 4548, always_xy=True).transform(arr[:, 0], arr[:, 1])
    return np.asarray(x), np.asarray(y)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-geopandas", action="store_true", help="skip the slowest column")
    args = ap.parse_args()
    rows = []

    with connect() as conn:
        sizes = top_up(conn)
        print("data:", json.dumps(sizes), file=sys.stderr)

        # ---------------------------------------------------------- heatmap, 100 m, all positions
        hm = HeatmapProcessor()
        p = hm.parse({"source": "positions", "cell_size": 100})
        t, doc = timed(lambda: json.loads(hm.run(p, conn)[1]), args.repeat)
        cells = doc["numberMatched"]
        assert doc["total"] == sizes["positions"], (doc["total"], sizes["positions"])
        rows.append(("heatmap 2M positions @100 m", "civicgrid process (roll-up, GeoJSON)", t, f"{cells} cells", "≤ 0.3 s"))

        raw = "SELECT floor(ST_X(p) / 100)::int ix, floor(ST_Y(p) / 100)::int iy, count(*) FROM " \
              "(SELECT ST_Transform(geom, 4548) p FROM officer_position) s GROUP BY 1, 2"
        t, out = timed(lambda: conn.execute(raw).fetchall(), max(1, args.repeat // 2))
        assert len(out) == cells
        rows.append(("", "plain PostGIS GROUP BY (counts only)", t, f"{len(out)} cells", ""))

        def numpy_way():
            x, y = fetch_xy(conn, "SELECT ST_X(geom), ST_Y(geom) FROM officer_position")
            keys = np.floor(x / 100).astype(np.int64) * 1_000_000 + np.floor(y / 100).astype(np.int64)
            return np.unique(keys, return_counts=True)

        t, (k, _) = timed(numpy_way, 1)
        rows.append(("", "fetch + pyproj + numpy.unique", t, f"{len(k)} cells", ""))

        if not args.skip_geopandas:
            import geopandas as gpd
            from sqlalchemy import create_engine

            from civicgrid.settings import get_settings

            engine = create_engine("postgresql+psycopg://" + get_settings().dsn.split("://", 1)[1])

            def geopandas_way():
                gdf = gpd.read_postgis("SELECT geom FROM officer_position", engine, geom_col="geom").to_crs(4548)
                return gdf.assign(ix=np.floor(gdf.geometry.x / 100), iy=np.floor(gdf.geometry.y / 100)).groupby(["ix", "iy"]).size()

            t0 = time.perf_counter()
            g = geopandas_way()
            rows.append(("", "geopandas read_postgis + to_crs + groupby", time.perf_counter() - t0, f"{len(g)} cells", ""))

        # ---------------------------------------------------------- DBSCAN, 100k cases
        cl = ClusterProcessor()
        p = cl.parse({"source": "cases", "eps": 50, "minpoints": 5})
        t, doc = timed(lambda: json.loads(cl.run(p, conn)[1]), args.repeat)
        n_clusters = doc["numberMatched"]
        rows.append((f"DBSCAN {sizes['cases'] // 1000}k cases (eps 50 m, 5)",
                     "civicgrid process, engine grid (k-d tree; clusters + hulls + top categories)", t,
                     f"{n_clusters} clusters", "≤ 0.5 s"))
        p = cl.parse({"source": "cases", "eps": 50, "minpoints": 5, "engine": "postgis"})
        t, doc = timed(lambda: json.loads(cl.run(p, conn)[1]), args.repeat)
        rows.append(("", "civicgrid process, engine postgis (same output, in SQL)", t, f"{doc['numberMatched']} clusters", ""))
        plain = "SELECT ST_ClusterDBSCAN(ST_Transform(geom, 4548), 50, 5) OVER () FROM cases WHERE geom IS NOT NULL"
        t, out = timed(lambda: conn.execute(plain).fetchall(), args.repeat)
        labels = {r["st_clusterdbscan"] for r in out if r["st_clusterdbscan"] is not None}
        rows.append(("", "plain PostGIS ST_ClusterDBSCAN (labels only)", t, f"{len(labels)} clusters", ""))
        try:
            from sklearn.cluster import DBSCAN

            def sklearn_way():
                x, y = fetch_xy(conn, "SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE geom IS NOT NULL")
                return DBSCAN(eps=50, min_samples=5).fit(np.column_stack([x, y])).labels_

            t, lab = timed(sklearn_way, max(1, args.repeat // 2))
            rows.append(("", "fetch + pyproj + scikit-learn DBSCAN", t, f"{len(set(lab) - {-1})} clusters", ""))
        except ImportError:
            rows.append(("", "scikit-learn DBSCAN", float("nan"), "not installed (pip install .[bench])", ""))

        # ---------------------------------------------------------- evaluation, a year
        # the year that ends with the demo's last local day
        end = conn.execute("SELECT (date_trunc('day', max(reported_at) AT TIME ZONE 'Asia/Shanghai') + interval '1 day') "
                           "AT TIME ZONE 'Asia/Shanghai' AS t FROM cases WHERE external_id IS NULL OR external_id NOT LIKE %s",
                           ["bench-%"]).fetchone()["t"]
        start = end.replace(year=end.year - 1)
        ev = AreaEvaluationProcessor()
        for level in ("unit_grid", "community", "department", "officer"):
            p = ev.parse({"level": level, "start": start.isoformat(), "end": end.isoformat()})
            t, doc = timed(lambda: json.loads(ev.run(p, conn)[1]), args.repeat)  # noqa: B023 — called at once
            filed = sum((f["properties"].get("filed") or f["properties"].get("dispatched") or f["properties"].get("reports") or 0)
                        for f in doc["features"])
            rows.append(("area-evaluation, a year" if level == "unit_grid" else "", f"civicgrid process, level {level}", t,
                         f"{doc['numberMatched']} rows, Σ {filed}", "≤ 2 s" if level == "unit_grid" else ""))

    import os

    print()
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| task | method | median s | result | target |")
    print("| --- | --- | ---: | --- | --- |")
    for task, method, t, result, target in rows:
        print(f"| {task} | {method} | {t:.3f} | {result} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
