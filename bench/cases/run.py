"""Cases bench: intake and transition throughput through HTTP with 8 concurrent clients.

    .venv/bin/python bench/cases/run.py [--seconds 20] [--clients 8] [--workers 1] [--history 20000]

Starts a throwaway PostgreSQL cluster (or uses BENCH_DATABASE_URL), migrates it, builds the small test
town plus `--history` older cases in the last 72 h (so the 50 m duplicate check has neighbours),
starts `civicgrid serve` with the role header trusted, and drives it with httpx clients.
Each intake does location → grids → officer → category → department rule → workflow rule →
case number → duplicate check → case + event + timers, in one transaction. Then the web app's case
pages one user at a time (targets: an inbox of 1,000 open cases ≤ 1 s, a case page with 30 timeline
events ≤ 500 ms, intake submit → case number p95 ≤ 300 ms), and the inbox page in headless chromium
(the shift leader's 待办 loaded cold until its list is drawn, at 1920×1080 and 390×844; needs the web
build and Playwright, i.e. `make setup-test`). Prints a table.

    .venv/bin/python bench/cases/run.py --history 1000 --seconds 5   # a box of about 1,000 open cases
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from civicgrid.testing import free_port

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

CATEGORIES = ["06010", "06011", "06012", "06036", "09005", "09006", "09009", "09010", "07001", "01037", "01002"]


def prepare(url: str, history: int, demo: float | None) -> list[tuple[float, float]]:
    """Migrate, load a town, add `history` recent cases; returns points inside the town to report at."""
    from civicgrid.cases import testing
    from civicgrid.db import connect, migrate

    migrate(url)
    if demo:
        from civicgrid.demo import load

        load(scale=demo, url=url, progress=False)
    else:
        with connect(url) as conn:
            testing.build_town(conn)
    with connect(url) as conn:
        points = [(r["x"], r["y"]) for r in conn.execute(
            "SELECT ST_X(g.geom) AS x, ST_Y(g.geom) AS y FROM town t, "
            "ST_Dump(ST_GeneratePoints(ST_Buffer(t.geom::geography, -20)::geometry, 20000, 42)) g").fetchall()]
        # history: recent cases spread over the town and the last 72 h, so duplicate checks have neighbours
        conn.execute("""
            INSERT INTO cases (case_number, channel, category_kind, category_code, state, workflow, workflow_version,
                               reported_at, geom)
            SELECT t.code || to_char(now() - interval '400 days', 'YYYYMMDD') || lpad(g::text, 6, '0'),
                   'patrol', 'matter', (%(cats)s::text[])[1 + g %% %(ncat)s], 'reported', 'standard', 1,
                   now() - (g %% 4320) * interval '1 minute', ST_SetSRID(ST_MakePoint(p.x, p.y), 4490)
            FROM generate_series(1, %(n)s) g
            CROSS JOIN (SELECT code FROM town LIMIT 1) t
            JOIN unnest(%(xs)s::float8[], %(ys)s::float8[]) WITH ORDINALITY AS p(x, y, i) ON p.i = 1 + g %% %(np)s""",
                     {"cats": CATEGORIES, "ncat": len(CATEGORIES), "n": history, "np": len(points),
                      "xs": [p[0] for p in points], "ys": [p[1] for p in points]})
        conn.execute("ANALYZE")
    return points


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    from civicgrid.testing import start_server as serve

    return serve(url, {"CIVICGRID_DATA_DIR": tempfile.mkdtemp(prefix="cases-bench-")}, workers=workers)


POINTS: list[tuple[float, float]] = []


def worker_cpu(parent: int) -> dict[int, float]:
    """CPU seconds used so far by each uvicorn worker (children of `parent`; the parent itself when alone)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent or int(d.name) == parent:
            out[int(d.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def payload(rng: random.Random) -> dict:
    lon, lat = rng.choice(POINTS)
    return {"channel": "patrol", "category_code": rng.choice(CATEGORIES), "lon": lon, "lat": lat, "description": "bench"}


KEEPALIVE = True


async def drive(base: str, clients: int, seconds: float, make_request) -> tuple[int, int, list[float]]:
    ok = errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(i: int):
        nonlocal ok, errors
        rng = random.Random(i)
        limits = httpx.Limits(max_keepalive_connections=None if KEEPALIVE else 0)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                r = await make_request(http, rng, i)
                latencies.append(time.perf_counter() - t0)
                if r is None:
                    return
                if r.status_code in (200, 201):
                    ok += 1
                else:
                    errors += 1
                    if errors <= 3:
                        print(f"  error {r.status_code}: {r.text[:200]}", file=sys.stderr)
    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return ok, errors, latencies, time.perf_counter() - t0


# issue 13's targets for the web app's case pages: (what is compared, milliseconds)
TARGETS = {"inbox page 1920×1080": ("median", 1000), "inbox page phone": ("median", 1000),
           "case page (30 events)": ("p95", 500), "intake submit → case number": ("p95", 300)}
MEASURED: dict[str, dict[str, float]] = {}


def p95_ms(lat_ms: list[float]) -> float:
    return lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.95))]


def row(name, ok, errors, lat, elapsed, target=None):
    lat_ms = sorted(x * 1000 for x in lat) or [0]
    p95 = p95_ms(lat_ms)
    if target:
        MEASURED[target] = {"median": statistics.median(lat_ms), "p95": p95}
    return f"| {name:<34} | {ok:>7} | {errors:>6} | {ok / elapsed:>9.1f} | {statistics.median(lat_ms):>8.1f} | {p95:>8.1f} |"


async def main_async(args, base: str) -> list[str]:
    from civicgrid.security.testing import Credentials

    creds = Credentials(args.url)  # callers authenticate with API keys, checked on every request
    H = creds.headers("grid_officer")
    lines = []
    # warm-up
    async with httpx.AsyncClient(base_url=base) as http:
        for i in range(20):
            await http.post("/api/cases", json=payload(random.Random(i)), headers=H)

    async def intake(http, rng, i):
        return await http.post("/api/cases", json=payload(rng), headers=H)
    res = await drive(base, args.clients, args.seconds, intake)
    lines.append(row(f"intake (patrol, {args.clients} clients)", *res))

    # transitions: each client files, then dispatches, its own fresh cases
    pools: dict[int, list[tuple[int, int]]] = {}
    with psycopg.connect(args.url) as conn:  # fresh standard-flow cases with a department to dispatch to
        cases = conn.execute("SELECT id, version FROM cases WHERE state = 'reported' AND workflow_version IS NOT NULL "
                             "AND department_code IS NOT NULL ORDER BY id").fetchall()
    for n, c in enumerate(cases):
        pools.setdefault(n % args.clients, []).append(c)
    steps = {"file": creds.headers("shift_leader"), "dispatch": creds.headers("dispatcher")}
    queue: dict[int, list] = {i: [] for i in range(args.clients)}
    for i in range(args.clients):
        for cid, v in pools.get(i, []):
            queue[i].append((cid, v, "file"))
            queue[i].append((cid, v + 1, "dispatch"))

    async def transition(http, rng, i):
        if not queue[i]:
            return None
        cid, version, action = queue[i].pop(0)
        return await http.post(f"/api/cases/{cid}/actions/{action}", json={"version": version},
                               headers=steps[action])
    res = await drive(base, args.clients, args.seconds, transition)
    lines.append(row(f"transitions file+dispatch ({args.clients} cl.)", *res))
    lines += await workbench(base, creds, args.url)
    return lines


async def timed(http, n: int, request) -> tuple[int, int, list[float], float]:
    """`n` requests one after another (what one user waits for in the web app)."""
    ok = errors = 0
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        r = await request(http)
        lat.append(time.perf_counter() - t)
        ok, errors = (ok + 1, errors) if r.status_code in (200, 201) else (ok, errors + 1)
    return ok, errors, lat, time.perf_counter() - t0


async def workbench(base: str, creds, url: str) -> list[str]:
    """The web app's case pages, one user at a time: the shift leader's inbox (its box holds every
    reported case: thousands after the intake run), a case page with 30 timeline events, an intake."""
    sl, dp, go = creds.headers("shift_leader"), creds.headers("dispatcher"), creds.headers("grid_officer")
    lines = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        total = (await http.get("/api/inbox", params={"limit": 1}, headers=sl)).json()["total"]
        for limit in (50, 500):
            res = await timed(http, 10, lambda h, n=limit: h.get("/api/inbox", params={"limit": n}, headers=sl))
            lines.append(row(f"inbox ({total} open, page of {limit})", *res))
        case = (await http.post("/api/cases", json=payload(random.Random(99)), headers=go)).json()
        version = (await http.post(f"/api/cases/{case['id']}/actions/file", json={"version": 1}, headers=sl)).json()["version"]
        for _ in range(28):   # 催办 keeps the state: 30 events in all
            version = (await http.post(f"/api/cases/{case['id']}/actions/urge", json={"version": version},
                                       headers=dp)).json()["version"]

        async def detail(h):
            r = await h.get(f"/api/cases/{case['id']}", headers=sl)
            await h.get(f"/api/cases/{case['id']}/actions", headers=sl)
            return r
        lines.append(row("case page: detail+actions (30 events)", *await timed(http, 20, detail),
                         target="case page (30 events)"))
        rng = random.Random(7)
        lines.append(row("intake submit → case number (1 client)",
                         *await timed(http, 50, lambda h: h.post("/api/cases", json=payload(rng), headers=go)),
                         target="intake submit → case number"))
    return lines


INBOX_USER, INBOX_PASSWORD = "bench.inbox.leader", "bench-inbox-password"


def inbox_page(base: str, url: str, rounds: int = 5) -> list[str]:
    """Milliseconds from navigation to the 待办 list drawn (the page's own mark), cold (a fresh browser
    context: empty cache, the app's chunks, /api/auth/me, /api/labels and /api/inbox), as a shift leader."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return ["(inbox page: Playwright not installed — `make setup-test`)"]
    from bench.web.run import ARGS, CHROMIUM
    from civicgrid.db import connect
    from civicgrid.security.identity import add_user

    with connect(url) as conn:
        if not conn.execute("SELECT 1 FROM app_user WHERE username = %s", [INBOX_USER]).fetchone():
            add_user(conn, INBOX_USER, ["shift_leader"], password=INBOX_PASSWORD)
    lines = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for name, viewport in (("1920×1080", {"width": 1920, "height": 1080}), ("phone 390×844", {"width": 390, "height": 844})):
            times, total = [], None
            for i in range(rounds + 1):   # the first load warms the server
                context = browser.new_context(base_url=base, viewport=viewport, locale="zh-CN")
                try:
                    assert context.request.post("/api/auth/login", data={"username": INBOX_USER, "password": INBOX_PASSWORD}).ok
                    page = context.new_page()
                    page.goto("/inbox")
                    page.wait_for_function("document.body.dataset.inboxReady === '1'", timeout=120_000)
                    mark = page.evaluate("window.__civicgrid.inbox")
                    assert page.locator("[data-testid=inbox-list] [data-case], [data-testid=inbox-list] tbody tr").count() > 0
                    if i:
                        times.append(mark["ready"])
                    total = mark["total"]
                finally:
                    context.close()
            times.sort()
            MEASURED["inbox page " + name.split()[0]] = {"median": statistics.median(times), "p95": times[-1]}
            lines.append(f"| {'inbox page ' + name + f' ({total} open)':<34} | {len(times):>7} | {0:>6} | {'—':>10} "
                         f"| {statistics.median(times):>8.0f} | {times[-1]:>8.0f} |")
        browser.close()
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--history", type=int, default=20000)
    ap.add_argument("--new-connections", action="store_true",
                    help="a new TCP connection per request, so the kernel spreads them over uvicorn workers")
    ap.add_argument("--demo", type=float, default=None, help="load the demo town at this scale instead of the test town")
    ap.add_argument("--no-browser", action="store_true", help="skip the inbox page in headless chromium")
    args = ap.parse_args()

    global KEEPALIVE
    KEEPALIVE = not args.new_connections
    cluster = None
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        from civicgrid.db.cluster import Cluster

        base_dir = Path(tempfile.mkdtemp(prefix="cases-bench-pg-"))
        os.chmod(base_dir, 0o755)
        cluster = Cluster(data_dir=base_dir / "data", port=free_port(), db_name="bench", durable=False)
        cluster.start()
        url = f"postgresql://{cluster.user}@127.0.0.1:{cluster.port}/bench"
    proc = None
    try:
        args.url = url
        POINTS.extend(prepare(url, args.history, args.demo))
        proc, base = start_server(url, args.workers)
        before = worker_cpu(proc.pid)
        lines = asyncio.run(main_async(args, base))
        if not args.no_browser:
            lines += inbox_page(base, url)
        after = worker_cpu(proc.pid)
        spread = {pid: round(after[pid] - before.get(pid, 0), 1) for pid in after if after[pid] - before.get(pid, 0) > 0.5}
        with psycopg.connect(url) as conn:
            n_cases, n_events, n_dups = conn.execute(
                "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM case_event), "
                "(SELECT count(*) FROM case_duplicate)").fetchone()
        print(f"\ncases bench: {args.clients} concurrent clients, {args.seconds:g} s per phase, uvicorn workers={args.workers}, "
              f"{args.history} historical cases, {'new connection per request' if args.new_connections else 'keep-alive'}, "
              f"town: {'demo x' + str(args.demo) if args.demo else 'test town'}, "
              f"{os.cpu_count()} CPUs (shared, load {os.getloadavg()[0]:.1f})\n")
        print("| phase                              |      ok | errors | per second | p50 (ms) | p95 (ms) |")
        # (the inbox page rows: p50 is the median, p95 column the slowest of its loads)
        print("| ---------------------------------- | ------: | -----: | ---------: | -------: | -------: |")
        for line in lines:
            print(line)
        print("\ntargets: " + ", ".join(
            f"{name} {kind} ≤ {limit} ms ({MEASURED[name][kind]:.0f}: {'met' if MEASURED[name][kind] <= limit else 'MISSED'})"
            for name, (kind, limit) in TARGETS.items() if name in MEASURED))
        print(f"server CPU seconds per uvicorn process over both phases (how the requests were spread): {spread}")
        print(f"after the run: {n_cases} cases, {n_events} events, {n_dups} duplicate suggestions stored")
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        if cluster:
            cluster.stop()


if __name__ == "__main__":
    main()
