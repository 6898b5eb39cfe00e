"""Web app bench: headless chromium on the loaded town, the Vue app beside the static page it
replaced (bench/web/baseline/, served by this bench through request interception), each loaded cold
(a fresh browser context: empty cache) as a leader (the heaviest default view: every layer and the
officers' positions), alternating, `--rounds` times; medians printed.

    make bench-web             # private cluster under .data/bench, the demo town loaded if empty
    .venv/bin/python -m bench.web [--rounds 5]

- first frame: performance.now() of the map's first `render` (navigation start = 0)
- idle: the page says it is ready (body[data-ready]) and the map is `idle` with its default layers
- JS / CSS gzip: bytes of every script (the map's worker included) and style sheet the first load
  fetched, each gzipped (level 6) here, so both pages are counted the same way
- search p50/p95: GET /api/search from the page (fetch, as the search box does) over queries from the
  town (POI names, prefixes, pinyin initials, addresses, community names), after one warm-up round
- polygon query p50/p95: what the 查询 tool sends for a drawn area — OGC API Features items of
  urban-components with a CQL2 `S_INTERSECTS` polygon (≈ 500 m squares around random components,
  limit 1000), fetched from the page, after one warm-up round
- dashboard: 领导驾驶舱 (/dashboard?date=the town's last day) loaded cold as a leader, until its numbers
  and charts are drawn (performance.now() when the page marks itself ready; navigation start = 0)
Targets: idle ≤ 4 s, first-load JS ≤ 700 KB gzip, search p95 ≤ 50 ms, dashboard ≤ 1.5 s.
"""
from __future__ import annotations

import argparse
import gzip
import mimetypes
import random
import statistics
import subprocess
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from civicgrid.db import connect
from civicgrid.security.identity import add_user
from civicgrid.settings import REPO_ROOT, get_settings
from civicgrid.testing import start_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-default-apps", "--disable-sync"]
BASELINE = Path(__file__).with_name("baseline")
NODE_MODULES = REPO_ROOT / "web" / "node_modules"
VENDOR = {   # what the baseline page loaded from /vendor/ (copied there by its old build script)
    "/vendor/maplibre-gl/maplibre-gl.mjs": NODE_MODULES / "maplibre-gl/dist/maplibre-gl.mjs",
    "/vendor/maplibre-gl/maplibre-gl-worker.mjs": NODE_MODULES / "maplibre-gl/dist/maplibre-gl-worker.mjs",
    "/vendor/maplibre-gl/maplibre-gl.css": NODE_MODULES / "maplibre-gl/dist/maplibre-gl.css",
    "/vendor/pmtiles/pmtiles.js": NODE_MODULES / "pmtiles/dist/pmtiles.js",
}
USER, PASSWORD = "bench.web.leader", "bench-web-password"

# Recorded in both pages the same way: when the page is ready and its map idle. `window.map` (the
# baseline) or `window.__civicgrid.map` (the app) is caught the moment it is set.
PROBE = """
(() => {
  const t = window.__bench = {};
  const watch = m => {
    if (!m || t.watched) return;
    t.watched = true;
    m.once('render', () => { t.firstFrame ??= performance.now(); });
  };
  let baseline;
  Object.defineProperty(window, 'map', {configurable: true, get: () => baseline, set: v => { baseline = v; watch(v); }});
  let app;
  Object.defineProperty(window, '__civicgrid', {configurable: true, get: () => app,
    set: v => { app = v; }});
  const poll = setInterval(() => {
    if (app && app.map) watch(app.map);
    const m = baseline ?? app?.map;
    if (!m || document.body?.dataset.ready !== '1' || t.idleWait) return;
    t.idleWait = true;
    clearInterval(poll);
    const done = () => { t.idle = performance.now(); };
    if (m.loaded() && m.areTilesLoaded()) done(); else m.once('idle', done);
  }, 2);
})();
"""


def ensure_user(url: str) -> None:
    with connect(url) as conn:
        if not conn.execute("SELECT 1 FROM app_user WHERE username = %s", [USER]).fetchone():
            add_user(conn, USER, ["leader"], password=PASSWORD)


def serve_baseline(route) -> None:
    path = urlsplit(route.request.url).path
    if path in ("/", "/index.html"):
        file = BASELINE / "index.html"
    elif path in ("/app.js", "/app.css"):
        file = BASELINE / path[1:]
    elif path in VENDOR:
        file = VENDOR[path]
    else:
        route.continue_()
        return
    kind = "text/javascript" if file.suffix in (".js", ".mjs") else mimetypes.guess_type(file.name)[0] or "text/html"
    route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": f"{kind}; charset=utf-8"})


def load_once(browser, base: str, which: str) -> dict:
    context = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        r = context.request.post("/api/auth/login", data={"username": USER, "password": PASSWORD})
        assert r.ok, r.text()
        if which == "baseline":
            context.route("**/*", serve_baseline)
        page = context.new_page()
        page.add_init_script(PROBE)
        responses = []
        page.on("response", lambda r: responses.append(r))
        page.goto("/")
        page.wait_for_function("window.__bench && window.__bench.idle", timeout=120_000)
        timings = page.evaluate("({firstFrame: window.__bench.firstFrame, idle: window.__bench.idle})")
        js = css = 0
        for response in responses:
            kind = response.headers.get("content-type", "")
            path = urlsplit(response.url).path
            is_js = "javascript" in kind or path.endswith((".js", ".mjs"))
            is_css = "text/css" in kind or path.endswith(".css")
            if not (is_js or is_css) or response.status != 200:
                continue
            size = len(gzip.compress(response.body(), 6))
            if is_js:
                js += size
            else:
                css += size
        return {**timings, "js": js, "css": css}
    finally:
        context.close()


def fetch_latencies(browser, base: str, urls: list[str]) -> list[float]:
    """Milliseconds per GET from a logged-in page (as the app's fetches), after one warm-up round."""
    context = browser.new_context(base_url=base)
    try:
        context.request.post("/api/auth/login", data={"username": USER, "password": PASSWORD})
        page = context.new_page()
        page.goto("/api/health")
        script = """async urls => { const out = [];
            for (const u of urls) { const t = performance.now(); const r = await fetch(u); await r.json();
                out.push(performance.now() - t); }
            return out; }"""
        page.evaluate(script, urls)             # warm-up
        return page.evaluate(script, urls)
    finally:
        context.close()


def search_urls(queries: list[str]) -> list[str]:
    return ["/api/search?" + urlencode({"q": q, "limit": 10}) for q in queries]


def polygon_urls(polygons: list[str]) -> list[str]:
    """What the 查询 tool sends for a drawn area."""
    return ["/ogc/collections/urban-components/items?" + urlencode(
        {"filter": f"S_INTERSECTS(geometry, {wkt})", "filter-lang": "cql2-text", "limit": 1000}) for wkt in polygons]


def town_polygons(url: str, n: int = 30, half_m: float = 250) -> list[str]:
    """≈ 500 m squares (as WKT in lon/lat) centred on components picked at random."""
    with connect(url) as conn:
        rows = conn.execute("SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT ST_PointOnSurface(geom) AS p FROM component"
                            " TABLESAMPLE SYSTEM (5) REPEATABLE (1) LIMIT %s) s", [n]).fetchall()
    dx, dy = half_m / 85_000, half_m / 111_000          # degrees at 40° N
    return [f"POLYGON(({r['x'] - dx} {r['y'] - dy},{r['x'] + dx} {r['y'] - dy},{r['x'] + dx} {r['y'] + dy},"
            f"{r['x'] - dx} {r['y'] + dy},{r['x'] - dx} {r['y'] - dy}))" for r in rows]


def town_queries(url: str, n: int = 60) -> list[str]:
    rng = random.Random(1)
    with connect(url) as conn:
        pois = conn.execute("SELECT name, pinyin_initials, address FROM poi ORDER BY id").fetchall()
        communities = [r["name"] for r in conn.execute("SELECT name FROM community ORDER BY code")]
    qs = ["rhz"]
    pick = lambda rows, k: rng.sample(rows, min(k, len(rows)))  # noqa: E731
    qs += [p["name"] for p in pick(pois, n // 4)]
    qs += [p["name"][:2] for p in pick(pois, n // 6)]
    qs += [p["pinyin_initials"][:3] for p in pick([p for p in pois if p["pinyin_initials"]], n // 6)]
    qs += [p["address"] for p in pick([p for p in pois if p["address"]], n // 6)]
    qs += pick(communities, n // 6)
    return qs


def dashboard_once(browser, base: str, day: str) -> float:
    """Seconds from navigation to the dashboard's numbers and charts drawn, in a fresh context."""
    context = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        assert context.request.post("/api/auth/login", data={"username": USER, "password": PASSWORD}).ok
        page = context.new_page()
        page.goto(f"/dashboard?date={day}")
        page.wait_for_function("document.body.dataset.dashboard === 'ready'", timeout=120_000)
        return page.evaluate("window.__civicgrid.dashboard.timings.ready") / 1000
    finally:
        context.close()


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    url = get_settings().dsn
    ensure_user(url)
    queries = town_queries(url)
    polygons = town_polygons(url)
    with connect(url) as conn:
        last_day = str(conn.execute("SELECT max(reported_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM cases").fetchone()["d"])
    proc, base = start_server(url)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            load_once(browser, base, "app")                  # the server warms its caches once
            runs = {"app": [], "baseline": []}
            for i in range(args.rounds):
                for which in (("app", "baseline") if i % 2 == 0 else ("baseline", "app")):
                    runs[which].append(load_once(browser, base, which))
            latencies = fetch_latencies(browser, base, search_urls(queries))
            polygon_ms = fetch_latencies(browser, base, polygon_urls(polygons))
            dashboard_s = [dashboard_once(browser, base, last_day) for _ in range(args.rounds)]
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    p95 = statistics.quantiles(latencies, n=20)[18]
    with connect(url) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM component) AS components, (SELECT count(*) FROM cases) AS cases,"
                              " (SELECT count(*) FROM poi) AS pois").fetchone()
    print(f"\nweb bench: {args.rounds} cold loads each, 1920×1080, as a leader, on {url.rsplit('/', 1)[-1]} "
          f"({counts['components']} components, {counts['cases']} cases, {counts['pois']} POIs); medians")
    print(f"{'page':<26}{'first frame':>13}{'idle':>10}{'JS gzip':>12}{'CSS gzip':>11}{'search p50':>12}{'search p95':>12}")
    for which, title in (("app", "Vue app (web/dist)"), ("baseline", "static page (baseline)")):
        rows = runs[which]
        search = (f"{statistics.median(latencies):>10.1f}ms{p95:>10.1f}ms" if which == "app" else f"{'—':>12}{'—':>12}")
        print(f"{title:<26}{median(rows, 'firstFrame') / 1000:>12.2f}s{median(rows, 'idle') / 1000:>9.2f}s"
              f"{median(rows, 'js') / 1024:>9.0f} KB{median(rows, 'css') / 1024:>8.0f} KB{search}")
    app_idle, app_js = median(runs["app"], "idle") / 1000, median(runs["app"], "js") / 1024
    print(f"targets: idle ≤ 4 s ({'met' if app_idle <= 4 else 'MISSED'}), first-load JS ≤ 700 KB gzip "
          f"({'met' if app_js <= 700 else 'MISSED'}), search p95 ≤ 50 ms ({'met' if p95 <= 50 else 'MISSED'}); "
          f"{len(latencies)} search queries")
    q95 = statistics.quantiles(polygon_ms, n=20)[18]
    print(f"polygon query (查询, S_INTERSECTS ≈ 500 m square, urban-components, limit 1000): "
          f"p50 {statistics.median(polygon_ms):.1f} ms, p95 {q95:.1f} ms over {len(polygon_ms)} polygons")
    dash = statistics.median(dashboard_s)
    print(f"dashboard (领导驾驶舱 {last_day}, cold, numbers and charts drawn): median {dash:.2f} s, "
          f"max {max(dashboard_s):.2f} s over {len(dashboard_s)} loads (target ≤ 1.5 s: {'met' if dash <= 1.5 else 'MISSED'})")
    return 0
