"""OGC API benchmark: civicgrid against stock pygeoapi, tipg and a bare Starlette route, same data.

    .venv/bin/python -m bench.ogc            # scratch private cluster with the full-scale demo town
    .venv/bin/python -m bench.ogc --database-url postgresql://... --duration 5

One run starts every server (one uvicorn worker each, loopback only), drives each with
`--concurrency` clients (8; one keep-alive connection per client) on the same queries, and prints
req/s, p50, p99 and bytes per request per server × query. Each cell is bounded in time
(`--duration`) and count (`--max-requests`); a query slower than `SLOW_S` for one request is
measured with one client and `--slow-requests` requests instead, so a 30 s tile cannot hold the run.
Results also land in bench/results/ogc-<time>.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from civicgrid.errors import CivicgridError
from civicgrid.testing import free_port

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
SLOW_S = 3.0
QUERIES = ("items", "bbox", "attribute", "cql2", "item", "mvt_z10", "mvt_z14")
QUERY_TITLES = {
    "items": "items limit=100", "bbox": "bbox ~500 m limit=1000", "attribute": "attribute filter limit=100",
    "cql2": "CQL2 filter limit=100", "item": "item by id", "mvt_z10": "MVT z10 (whole town)",
    "mvt_z14": "MVT densest z14",
}
SERVERS = ("civicgrid", "pygeoapi", "tipg", "hello")


# ------------------------------------------------------------------ the data

def scratch_database(scale: float, workdir: Path) -> tuple[str, object]:
    """A private cluster under `workdir` with the demo town at `scale`; returns (url, cluster)."""
    from civicgrid.db import migrate
    from civicgrid.db.cluster import Cluster
    from civicgrid.demo import load

    os.chmod(workdir, 0o755)
    cluster = Cluster(data_dir=workdir / "pg", port=free_port(), db_name="bench", durable=False)
    cluster.start()
    migrate(cluster.dsn)
    t = time.perf_counter()
    load(scale=scale, url=cluster.dsn, progress=False)
    print(f"demo town loaded at scale {scale} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return cluster.dsn, cluster


@dataclass
class Targets:
    """What the queries ask for, read from the data so every server gets the same question."""

    bbox: list[float]
    type_code: str
    status: str
    item_id: str
    z10: tuple[int, int, int]
    z14: tuple[int, int, int]
    z14_count: int
    components: int


def targets(url: str) -> Targets:
    from civicgrid.db import connect
    from civicgrid.layers.tiles import densest_tile, lonlat_to_tile

    with connect(url) as conn:
        n = conn.execute("SELECT count(*) AS n FROM component").fetchone()["n"]
        if n == 0:
            raise SystemExit("no components in the database: load the demo town first (civicgrid demo load)")
        z, x, y, count = densest_tile(conn, "urban-components", 14)
        # the 500 m box around the middle of the densest z14 tile (components there are dense)
        centre = conn.execute(
            "SELECT ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT ST_Transform(ST_Centroid(ST_TileEnvelope(%s, %s, %s)), 4490) c) s",
            [z, x, y]).fetchone()
        town = conn.execute("SELECT ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT ST_Centroid(ST_Union(geom)) c FROM town) s").fetchone()
        common = conn.execute("SELECT type_code FROM component GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 3").fetchone()
        item = conn.execute("SELECT id FROM component ORDER BY id OFFSET %s LIMIT 1", [n // 2]).fetchone()
    dlon, dlat = 250 / 85_000, 250 / 111_000
    x10, y10 = lonlat_to_tile(town["lon"], town["lat"], 10)
    return Targets(bbox=[round(centre["lon"] - dlon, 6), round(centre["lat"] - dlat, 6),
                         round(centre["lon"] + dlon, 6), round(centre["lat"] + dlat, 6)],
                   type_code=common["type_code"], status="破损", item_id=item["id"],
                   z10=(10, x10, y10), z14=(z, x, y), z14_count=count, components=n)


def urls(server: str, base: str, t: Targets) -> dict[str, str]:
    bbox = ",".join(map(str, t.bbox))
    cql = quote(f"type_code = '{t.type_code}' AND status = '完好'")
    if server == "hello":
        return {q: base + "/" for q in QUERIES}
    if server == "civicgrid":
        c, tiles, order = base + "/ogc/collections/urban-components", "/tiles/WebMercatorQuad", "zyx"
    elif server == "pygeoapi":
        c, tiles, order = base + "/collections/urban-components", "/tiles/WebMercatorQuad", "zyx"
    else:  # tipg
        c, tiles, order = base + "/collections/public.component", "/tiles/WebMercatorQuad", "zxy"

    def tile(z, x, y):
        path = f"{c}{tiles}/{z}/{y}/{x}" if order == "zyx" else f"{c}{tiles}/{z}/{x}/{y}"
        return path + ("?f=mvt" if server == "pygeoapi" else "")

    f = "&f=json" if server == "pygeoapi" else ""
    if server == "pygeoapi":
        # stock pygeoapi 0.24 with storage_crs EPSG:4490 swaps a CRS84 bbox's axes (lon,lat → 0 features);
        # give it lat,lon so it does the same work and returns the same features as the others
        bbox = ",".join(map(str, [t.bbox[1], t.bbox[0], t.bbox[3], t.bbox[2]]))
    return {
        "items": f"{c}/items?limit=100{f}",
        "bbox": f"{c}/items?bbox={bbox}&limit=1000{f}",
        "attribute": f"{c}/items?type_code={t.type_code}&limit=100{f}",
        "cql2": f"{c}/items?filter={cql}&filter-lang=cql2-text&limit=100{f}",
        "item": f"{c}/items/{t.item_id}" + ("?f=json" if server == "pygeoapi" else ""),
        "mvt_z10": tile(*t.z10),
        "mvt_z14": tile(*t.z14),
    }


# ------------------------------------------------------------------ the servers

def pygeoapi_config(url: str, workdir: Path, port: int) -> dict:
    parts = urlsplit(url)
    data = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "dbname": parts.path.lstrip("/"),
            "user": parts.username or "postgres", "password": parts.password or "", "search_path": ["public"]}
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "limits": {"default_items": 10, "max_items": 10000}, "map": {"url": "", "attribution": ""}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "stock pygeoapi", "description": "bench", "keywords": ["bench"],
                               "terms_of_service": "", "url": "http://127.0.0.1"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench", "email": "bench@example.org"}},
        "resources": {"urban-components": {
            "type": "collection", "title": "Urban components", "description": "component table",
            "keywords": ["components"], "links": [],
            "extents": {"spatial": {"bbox": [116.5, 40.0, 116.8, 40.3],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [
                {"type": "feature", "name": "PostgreSQL", "data": data, "id_field": "id", "table": "component",
                 "geom_field": "geom", "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/4490"},
                {"type": "tile", "name": "MVT-postgresql", "data": data, "id_field": "id", "table": "component",
                 "geom_field": "geom", "options": {"zoom": {"min": 0, "max": 18}},
                 "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}},
            ]}},
    }


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    ready_path: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_servers(url: str, workdir: Path, names: list[str], timeout_s: float = 120.0,
                  servers: list[Server] | None = None) -> list[Server]:
    """Start the servers into `servers` (the caller's list, so it can stop them whatever fails)."""
    import yaml

    python = sys.executable
    uvicorn = [python, "-m", "uvicorn", "--host", "127.0.0.1", "--workers", "1", "--log-level", "warning",
               "--no-access-log"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYGEOAPI_", "TIPG_"))}
    servers = [] if servers is None else servers
    for name in names:
        port = free_port()
        e = dict(env)
        if name == "civicgrid":
            e.update(DATABASE_URL=url, CIVICGRID_DATA_DIR=str(workdir / "civicgrid-data"))
            cmd = [python, "-m", "civicgrid.cli", "serve", "--port", str(port), "--workers", "1"]
            ready = "/ogc/collections"
        elif name == "pygeoapi":
            cfg = workdir / "pygeoapi-config.yml"
            cfg.write_text(yaml.safe_dump(pygeoapi_config(url, workdir, port), allow_unicode=True))
            openapi = workdir / "pygeoapi-openapi.yml"
            subprocess.run([str(Path(python).with_name("pygeoapi")), "openapi", "generate", str(cfg),
                            "--output-file", str(openapi)], check=True, capture_output=True,
                           env={**e, "PYGEOAPI_CONFIG": str(cfg)})
            # its dense tiles run for minutes: a statement timeout (libpq reads PGOPTIONS) stops the query
            # when the client gives up, so it does not eat the CPU of the cells measured after it
            e.update(PYGEOAPI_CONFIG=str(cfg), PYGEOAPI_OPENAPI=str(openapi),
                     PGOPTIONS=f"-c statement_timeout={int(timeout_s * 1000)}")
            cmd = uvicorn + ["--port", str(port), "pygeoapi.starlette_app:APP"]
            ready = "/collections/urban-components"
        elif name == "tipg":
            e.update(DATABASE_URL=url, TIPG_DB_SCHEMAS='["public"]', TIPG_DB_TABLES='["public.component"]',
                     TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS='["public"]', TIPG_MAX_FEATURES_PER_QUERY="10000")
            cmd = uvicorn + ["--port", str(port), "tipg.main:app"]
            ready = "/collections/public.component"
        else:
            cmd = uvicorn + ["--port", str(port), "bench.ogc.hello:app"]
            ready = "/"
        log = workdir / f"{name}.log"
        proc = subprocess.Popen(cmd, cwd=REPO, env=e, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        servers.append(Server(name, port, proc, ready, log))
    try:
        for s in servers:
            deadline = time.time() + 120
            while True:
                if s.proc.poll() is not None:
                    raise SystemExit(f"{s.name} exited at start:\n{s.log.read_text()[-2000:]}")
                try:
                    if httpx.get(s.base + s.ready_path, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline:
                    raise SystemExit(f"{s.name} did not answer {s.ready_path} within 120 s:\n{s.log.read_text()[-2000:]}")
                time.sleep(0.5)
    except BaseException:
        stop_servers(servers)   # the caller never sees the list: stop what was started
        raise
    return servers


def stop_servers(servers: list[Server]) -> None:
    for s in servers:
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGTERM)
    for s in servers:
        try:
            s.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(s.proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------ the load

@dataclass
class Cell:
    server: str
    query: str
    url: str
    headers: dict = field(default_factory=dict)
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    clients: int = 0
    note: str = ""
    p50_ms: float | None = None     # set directly when the load tool reports percentiles (wrk)
    p99_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if p == 50 and self.p50_ms is not None:
            return self.p50_ms
        if p == 99 and self.p99_ms is not None:
            return self.p99_ms
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    def summary(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        d.update(rps=round(self.rps, 1), p50_ms=round(self.pct(50), 2), p99_ms=round(self.pct(99), 2),
                 bytes_per_request=round(self.bytes / self.requests) if self.requests else 0)
        return d


async def drive(cell: Cell, clients: int, duration: float, max_requests: int, timeout: float) -> None:
    """`clients` loops, each with its own keep-alive connection, until the time or count is spent."""
    done = 0
    stop_at = 0.0

    async def loop(client: httpx.AsyncClient):
        nonlocal done
        while time.perf_counter() < stop_at and done < max_requests:
            done += 1
            t = time.perf_counter()
            try:
                r = await client.get(cell.url)
                ok = r.status_code in (200, 204)
                size = len(r.content)
            except httpx.HTTPError as exc:
                ok, size = False, 0
                cell.statuses[type(exc).__name__] = cell.statuses.get(type(exc).__name__, 0) + 1
            else:
                cell.statuses[str(r.status_code)] = cell.statuses.get(str(r.status_code), 0) + 1
            ms = (time.perf_counter() - t) * 1000
            if ok:
                cell.requests += 1
                cell.bytes += size
                cell.latencies_ms.append(ms)
            else:
                cell.errors += 1

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(timeout=timeout, limits=limits, headers=cell.headers) for _ in range(clients)]
    # the clock starts once the clients exist (building their TLS contexts takes a while)
    stop_at = time.perf_counter() + duration
    start = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c) for c in pool))
    finally:
        cell.seconds = time.perf_counter() - start
        for c in pool:
            await c.aclose()


WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


async def drive_wrk(cell: Cell, body_bytes: int, args) -> None:
    """Debian's wrk (C, 2 threads) for the fast cells: a Python client tops out near 300 req/s here."""
    script = Path(tempfile.gettempdir()) / "civicgrid-bench-wrk.lua"
    script.write_text(WRK_SCRIPT)
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t", str(min(2, args.concurrency)), "-c", str(args.concurrency), "-d", f"{max(1, round(args.duration))}s",
        "--timeout", f"{int(args.timeout)}s", "-s", str(script),
        *[a for k, v in cell.headers.items() for a in ("-H", f"{k}: {v}")], cell.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        cell.note = f"wrk failed: {(err or out).decode()[-200:]}"
        return
    r = json.loads(line)
    cell.errors = r["errors"]
    cell.requests = r["requests"] - r["errors"]
    cell.seconds = r["duration_us"] / 1e6
    cell.bytes = body_bytes * cell.requests
    # wrk reports percentiles, not samples: keep the two we print
    cell.latencies_ms = []
    cell.p50_ms, cell.p99_ms = r["p50_us"] / 1000, r["p99_us"] / 1000


async def measure(server: str, query: str, url: str, args, headers: dict | None = None) -> Cell:
    cell = Cell(server, query, url, headers or {})
    # warm-up (caches, connection pools, prepared plans) and a first look at the cost
    async with httpx.AsyncClient(timeout=args.timeout, headers=cell.headers) as client:
        t = time.perf_counter()
        try:
            r = await client.get(url)
        except httpx.HTTPError as exc:
            cell.note = f"warm-up failed: {type(exc).__name__}"
            cell.errors = 1
            return cell
        first = time.perf_counter() - t
        body_bytes = len(r.content)
        if r.status_code not in (200, 204):
            cell.note = f"HTTP {r.status_code} after {first:.1f} s: {r.text[:120]}"
            cell.errors = 1
            cell.statuses[str(r.status_code)] = 1
            return cell
    if first > SLOW_S:
        cell.clients = 1
        cell.note = f"slow ({first:.1f} s for one request): 1 client, {args.slow_requests} requests"
        await drive(cell, 1, float("inf"), args.slow_requests, args.timeout)
    elif args.load == "wrk":
        cell.clients = args.concurrency
        await drive_wrk(cell, body_bytes, args)
        if cell.requests < args.concurrency and not cell.note:
            # so slow under load that the window closed on requests still in flight: count instead
            fallback = Cell(server, query, url, clients=args.concurrency,
                            note=f"{cell.requests} requests done in wrk's {args.duration:g} s window: "
                                 f"measured {2 * args.concurrency} requests with the Python client")
            await drive(fallback, args.concurrency, float("inf"), 2 * args.concurrency, args.timeout)
            cell = fallback
    else:
        cell.clients = args.concurrency
        await drive(cell, args.concurrency, args.duration, args.max_requests, args.timeout)
    return cell


def print_table(cells: list[Cell], t: Targets, servers: list[str], args) -> str:
    out = []
    out.append(f"components: {t.components:,}; densest z14 tile {t.z14[1]}/{t.z14[2]} holds {t.z14_count:,}; "
               f"bbox {t.bbox}; type_code={t.type_code}; item {t.item_id}")
    out.append(f"each server: 1 uvicorn worker (so no keep-alive imbalance between workers); "
               f"load: {args.load}, {args.concurrency} keep-alive connections, {args.duration:g} s per cell; "
               f"bytes/req = response body")
    out.append("")
    header = (f"| {'query':<26} | {'server':<9} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'bytes/req':>10} "
              f"| {'n':>6} | {'err':>4} | vs tipg |")
    out.append(header)
    out.append("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    by = {(c.server, c.query): c for c in cells}
    for q in QUERIES:
        tipg = by.get(("tipg", q))
        for s in servers:
            c = by.get((s, q))
            if c is None:
                continue
            ratio = f"{c.rps / tipg.rps:6.1f}×" if tipg and tipg.rps and c.rps and s != "tipg" else ""
            out.append(f"| {QUERY_TITLES[q]:<26} | {s:<9} | {c.rps:8.1f} | {c.pct(50):8.1f} | {c.pct(99):8.1f} | "
                       f"{(c.bytes // c.requests if c.requests else 0):>10,} | {c.requests:>6} | {c.errors:>4} | {ratio:>7} |")
    notes = [f"- {c.server} {c.query}: {c.note}" for c in cells if c.note]
    if notes:
        out.append("")
        out.extend(notes)
    text = "\n".join(out)
    print(text)
    return text


async def run_all(args, servers: list[Server], t: Targets, auth: dict) -> list[Cell]:
    cells = []
    for q in args.queries:
        for s in servers:
            url = urls(s.name, s.base, t)[q]
            cell = await measure(s.name, q, url, args, auth.get(s.name))
            print(f"  {s.name:<9} {q:<9} {cell.rps:8.1f} req/s  p50 {cell.pct(50):7.1f} ms  p99 {cell.pct(99):7.1f} ms"
                  f"  {cell.note}", file=sys.stderr)
            cells.append(cell)
    return cells


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ogc", description=__doc__.split("\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                   help="an existing database with the demo town (default: a scratch private cluster)")
    p.add_argument("--scale", type=float, default=1.0, help="demo scale for the scratch cluster (default 1.0)")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of " + ",".join(SERVERS))
    p.add_argument("--queries", default=",".join(QUERIES), help="comma-separated subset of " + ",".join(QUERIES))
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per server × query (default 5)")
    p.add_argument("--max-requests", type=int, default=5000, help="requests per server × query at most")
    p.add_argument("--slow-requests", type=int, default=3, help="requests for a query slower than 3 s")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                   help="load generator: Debian's wrk (default when installed) or the asyncio+httpx loop")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, cluster)")
    args = p.parse_args(argv)
    args.queries = [q for q in args.queries.split(",") if q]
    names = [s for s in args.servers.split(",") if s]
    for q in args.queries:
        if q not in QUERIES:
            p.error(f"unknown query {q}; known: {', '.join(QUERIES)}")
    for s in names:
        if s not in SERVERS:
            p.error(f"unknown server {s}; known: {', '.join(SERVERS)}")
    if args.concurrency < 1 or args.duration <= 0 or args.max_requests < 1:
        p.error("concurrency, duration and max-requests must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="civicgrid-bench-"))
    cluster = None
    servers: list[Server] = []
    try:
        url = args.database_url
        if not url:
            url, cluster = scratch_database(args.scale, workdir)
        t = targets(url)
        # civicgrid is measured as the district platform reads it: with an API key checked on every
        # request (the asset register is not public); the peers have no access control at all
        from civicgrid.security.testing import Credentials

        auth = {"civicgrid": Credentials(url).headers("district_platform", "bench-platform")}
        start_servers(url, workdir, names, args.timeout, servers)
        cells = asyncio.run(run_all(args, servers, t, auth))
        text = print_table(cells, t, names, args)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"ogc-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({"targets": asdict(t), "args": {k: v for k, v in vars(args).items()},
                                   "cells": [c.summary() for c in cells], "table": text},
                                  ensure_ascii=False, indent=1, default=str))
        print(f"\nresults: {out.relative_to(REPO)}", file=sys.stderr)
    except CivicgridError as exc:
        print(f"bench.ogc: {exc.message}", file=sys.stderr)
        return 1
    finally:
        stop_servers(servers)
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print(f"scratch directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
