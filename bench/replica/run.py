"""Read throughput with a hot standby versus without (`make bench-replica`).

    .venv/bin/python bench/replica/run.py                 # scratch primary + standby, demo town at --scale
    .venv/bin/python bench/replica/run.py --scale 1 --duration 10 --workers 2

One run builds a private primary with the demo town and its streaming standby (`civicgrid db
replica start`), then starts `civicgrid serve` twice on the same data: `primary` (no standby) and
`standby` (CIVICGRID_DATABASE_READ_URL pointing at it). Each OGC query (bench/ogc's items, bbox and
tiles, with the district platform's API key as the district reads them) is driven with
`--concurrency` keep-alive clients for `--duration` seconds against one server, then the other; the
table prints req/s, p50 and p99 of both and the share of the reads the standby answered (from the
server's /metrics). Everything runs on this one machine: the standby competes with the primary for
the same cores, so this measures the routing's cost and the primary's relief, not a second
machine's capacity. Results also land in bench/results/replica-<time>.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.ogc.run import QUERY_TITLES, measure, targets, urls  # noqa: E402
from civicgrid.testing import free_port, start_server  # noqa: E402

QUERIES = ("items", "bbox", "item", "mvt_z10", "mvt_z14")


def served(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics", timeout=10).text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^civicgrid_db_reads\{database="(\w+)"\} (\S+)$', text, re.M)}


def backend_cpu(cluster) -> float:
    """CPU seconds (user + system) used so far by a cluster's postgres processes: the postmaster's
    own and its reaped children's (backends that exited), plus its live children's."""
    import os

    total = 0.0
    pid = cluster._pid()
    ticks = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(proc.name) == pid:   # utime, stime, cutime, cstime
            total += sum(int(f) for f in fields[11:15]) / ticks
        elif int(fields[1]) == pid:   # a live child: utime, stime
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def run(args, bases: dict[str, str], t, auth: dict, clusters: dict) -> list[dict]:
    rows = []
    for q in args.queries:
        for name, base in bases.items():
            before = served(base) if name == "standby" else {}
            cpu = {k: backend_cpu(c) for k, c in clusters.items()}
            cell = await measure("civicgrid", q, urls("civicgrid", base, t)[q], args, auth)
            used = {k: round(backend_cpu(c) - cpu[k], 2) for k, c in clusters.items()}
            after = served(base) if name == "standby" else {}
            share = None
            if name == "standby":
                d = {k: after.get(k, 0) - before.get(k, 0) for k in ("standby", "primary")}
                share = d["standby"] / (d["standby"] + d["primary"]) if sum(d.values()) else None
            rows.append({"query": q, "server": name, "rps": round(cell.rps, 1), "p50_ms": round(cell.pct(50), 1),
                         "p99_ms": round(cell.pct(99), 1), "requests": cell.requests, "errors": cell.errors,
                         "standby_share": share, "cpu_s": used, "note": cell.note})
            print(f"  {name:<8} {q:<8} {cell.rps:8.1f} req/s  p50 {cell.pct(50):7.1f} ms  p99 {cell.pct(99):7.1f} ms "
                  f" cpu {used}  {cell.note}", file=sys.stderr)
    return rows


def table(rows: list[dict], args) -> str:
    out = [f"one machine ({args.workers} worker(s) per server, {args.concurrency} clients, {args.duration:g} s per cell, "
           f"load: {args.load}); cpu = seconds of PostgreSQL CPU on the primary / the standby during the cell", "",
           "| query | without standby req/s | p50 ms | p99 ms | primary cpu s | with standby req/s | p50 ms | p99 ms "
           "| read by standby | primary cpu s | standby cpu s |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    by = {(r["query"], r["server"]): r for r in rows}
    for q in args.queries:
        a, b = by[(q, "primary")], by[(q, "standby")]
        share = "-" if b["standby_share"] is None else f"{b['standby_share']:.0%}"
        out.append(f"| {QUERY_TITLES[q]} | {a['rps']} | {a['p50_ms']} | {a['p99_ms']} | {a['cpu_s']['primary']} "
                   f"| {b['rps']} | {b['p50_ms']} | {b['p99_ms']} | {share} | {b['cpu_s']['primary']} "
                   f"| {b['cpu_s']['standby']} |")
    text = "\n".join(out)
    print(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/replica/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=0.3, help="demo scale of the scratch town (default 0.3)")
    p.add_argument("--queries", default=",".join(QUERIES), help="comma-separated subset of " + ",".join(QUERIES))
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per server × query (default 5)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers per server (default 1)")
    p.add_argument("--max-requests", type=int, default=20000)
    p.add_argument("--slow-requests", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    args.queries = [q for q in args.queries.split(",") if q]
    unknown = set(args.queries) - set(QUERIES)
    if unknown:
        p.error(f"unknown query {', '.join(sorted(unknown))}; known: {', '.join(QUERIES)}")

    from civicgrid.db import migrate
    from civicgrid.db import replica as rep
    from civicgrid.db.cluster import Cluster
    from civicgrid.demo import load
    from civicgrid.security.testing import Credentials
    from civicgrid.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="civicgrid-bench-replica-"))
    workdir.chmod(0o755)
    settings = Settings(database_url=None, data_dir=workdir / "data", pg_port=free_port())
    primary = Cluster.from_settings(settings)
    primary.durable = False
    standby_port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        primary.start()
        migrate(primary.dsn)
        t0 = time.perf_counter()
        load(scale=args.scale, url=primary.dsn, progress=False)
        print(f"demo town at scale {args.scale} loaded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        standby = rep.start(settings, standby_port)
        t = targets(primary.dsn)
        auth = Credentials(primary.dsn).headers("district_platform", "bench-platform")
        bases = {}
        for name, read_url in (("primary", ""), ("standby", standby.dsn)):
            proc, base = start_server(primary.dsn, env_extra={"CIVICGRID_DATA_DIR": str(workdir / name),
                                                              "CIVICGRID_DATABASE_READ_URL": read_url},
                                      workers=args.workers)
            procs.append(proc)
            bases[name] = base
        rows = asyncio.run(run(args, bases, t, auth, {"primary": primary, "standby": standby}))
        text = table(rows, args)
        results = REPO / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        out = results / f"replica-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({"args": vars(args), "components": t.components, "rows": rows, "table": text},
                                  ensure_ascii=False, indent=1, default=str))
        print(f"\nresults: {out.relative_to(REPO)}", file=sys.stderr)
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        rep.standby(settings, standby_port).stop()
        primary.stop()
        if args.keep:
            print(f"scratch directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
