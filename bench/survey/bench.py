"""Survey benchmark: N components (default 100 000) read from a GeoPackage, staged, checked and published.

    .venv/bin/python bench/survey/bench.py [--rows 100000] [--format gpkg|csv] [--url postgresql://…]

Creates a scratch database `civicgrid_bench_survey` on the server of --url (default: DATABASE_URL or
the private cluster, which must be running), migrates it, builds the tiny SQL town of survey.testing
(24 unit grids), writes the file, and prints one table of timings. Target: read + check + publish ≤ 30 s.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg


def scratch_url(url: str, name: str) -> str:
    base, _ = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def server_cpu_seconds(url: str) -> float | None:
    """CPU seconds used so far by a PostgreSQL server on this machine: live children of the postmaster
    plus what it reaped from exited ones. With a shared, loaded machine this (plus the client's own
    CPU time) estimates what the run would take on an idle one; None when the server is not local."""
    try:
        with psycopg.connect(url) as conn:
            data_dir = conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
        pid = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            proc_pid, ppid = int(stat.parent.name), int(fields[1])
            if ppid == pid:
                total += int(fields[11]) + int(fields[12])            # utime + stime
            elif proc_pid == pid:
                total += sum(int(f) for f in fields[11:15])           # + cutime + cstime of reaped children
        return total / tick
    except (OSError, PermissionError, ValueError, psycopg.Error):
        return None


def lattice_rows(n: int, classes, seed: int):
    """n points on a jittered lattice over the town (≥ 3 m apart: no accidental duplicates)."""
    from civicgrid.survey import testing as T

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n * (T.EAST - T.WEST) / (T.NORTH - T.SOUTH))))
    rows = int(np.ceil(n / side))
    dx, dy = (T.EAST - T.WEST) / side, (T.NORTH - T.SOUTH) / rows
    i = np.arange(n)
    lon = T.WEST + (i % side + 0.5 + rng.uniform(-0.25, 0.25, n)) * dx
    lat = T.SOUTH + (i // side + 0.5 + rng.uniform(-0.25, 0.25, n)) * dy
    frame = T.synthetic_rows(n, classes, seed=seed)
    # the grid each point falls in (the boxes are a regular 8 × 3 layout)
    boxes = T.grid_boxes()
    codes = np.empty(n, dtype=object)
    for _, code, (w, s, e, nn) in boxes:
        inside = (lon >= w) & (lon < e) & (lat >= s) & (lat < nn)
        codes[inside] = code
    frame["lon"], frame["lat"], frame["SZDYWGBSM"] = lon, lat, codes
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--format", choices=["gpkg", "csv"], default="gpkg")
    ap.add_argument("--url", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()

    from civicgrid.db import migrate
    from civicgrid.settings import get_settings
    from civicgrid.survey import service
    from civicgrid.survey import testing as T

    url = scratch_url(args.url or get_settings().dsn, "civicgrid_bench_survey")
    migrate(url)
    T.build_town(url)
    frame = lattice_rows(args.rows, T.catalog(url), seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"survey.{args.format}"
        t = time.perf_counter()
        if args.format == "gpkg":
            gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(frame.lon, frame.lat),
                             crs=4490).to_file(path, driver="GPKG")
        else:
            frame.to_csv(path, index=False)
        write_s = time.perf_counter() - t
        cpu0, server0 = time.process_time(), server_cpu_seconds(url)
        t0 = time.perf_counter()
        out = service.import_file(path, url=url)
        t1 = time.perf_counter()
        pub = service.publish(out.batch, valid_only=True, url=url)
        t2 = time.perf_counter()
        cpu1, server1 = time.process_time(), server_cpu_seconds(url)
    load = os.getloadavg()
    checks = sorted(out.timings["checks"].items(), key=lambda kv: -kv[1])[:5]
    print(f"\nsurvey bench: {args.rows:,} point components, {args.format}, load average {load[0]:.1f} (2 cores)\n")
    print("| stage | seconds |")
    print("| --- | ---: |")
    print(f"| write the test file (not counted) | {write_s:.2f} |")
    print(f"| read ({out.summary['file_format']}, CRS, mapping) | {out.timings['read']:.2f} |")
    print(f"| stage (COPY into survey_row) | {out.timings['stage']:.2f} |")
    print(f"| check ({len(out.timings['checks'])} set-based steps) | {out.timings['check']:.2f} |")
    for title, secs in checks:
        print(f"| &nbsp;&nbsp;· {title[:70]} | {secs:.2f} |")
    print(f"| publish ({pub['inserted']:,} inserted, history rows, triggers) | {t2 - t1:.2f} |")
    print(f"| **total read + check + publish** | **{t2 - t0:.2f}** |")
    if server0 is not None and server1 is not None:
        print(f"| CPU seconds used (client {cpu1 - cpu0:.2f} + PostgreSQL {server1 - server0:.2f}) "
              f"| {cpu1 - cpu0 + server1 - server0:.2f} |")
    print(f"\nrows with errors: {out.summary['error_rows']}; target ≤ 30 s: {'met' if t2 - t0 <= 30 else 'NOT met'}")
    if not args.keep:
        base = url.rsplit("/", 1)[0]
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "civicgrid_bench_survey" WITH (FORCE)')


if __name__ == "__main__":
    main()
