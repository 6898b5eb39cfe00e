"""The web map at `/` in a real browser: Debian's chromium driven by Playwright (no browser download).

`civicgrid serve` runs against the small town of test_tiles.py; the page must load without console
errors, draw features from our vector tiles (found with map.queryRenderedFeatures), switch to the
PMTiles imagery (read with HTTP range requests), open a feature popup, and return to the full
extent. Screenshots land in test-artifacts/.
"""
from __future__ import annotations

import subprocess

import httpx
import pytest
from conftest import start_server
from test_tiles import LAT0, LON0, STEP, build_town

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-default-apps", "--disable-sync"]

WEB_PASSWORD = "map-test-password"
IDLE = "new Promise(r => { if (map.loaded() && map.areTilesLoaded()) r(); else map.once('idle', () => r()); })"


@pytest.fixture(scope="module")
def web_server(pg_admin_url, tmp_path_factory):
    from conftest import create_database, drop_database

    from civicgrid.db import migrate

    url = create_database(pg_admin_url)
    migrate(url)
    build_town(url)
    from civicgrid.db import connect
    from civicgrid.security.identity import add_user

    with connect(url) as conn:
        add_user(conn, "web.leader", ["leader"], password=WEB_PASSWORD)
        # one officer on patrol in the middle of the town (网格员位置, for leaders only)
        oid = conn.execute("INSERT INTO officer (code, name) VALUES ('GO-101', '张网格') RETURNING id").fetchone()["id"]
        conn.execute("INSERT INTO officer_position (officer_id, recorded_at, geom, accuracy_m) "
                     "VALUES (%s, now(), ST_SetSRID(ST_MakePoint(%s, %s), 4490), 5)",
                     [oid, LON0 + 5 * STEP, LAT0 + 5 * STEP])
    data_dir = tmp_path_factory.mktemp("webdata")
    proc, base = start_server(url, {"CIVICGRID_DATA_DIR": str(data_dir)})
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    drop_database(pg_admin_url, url)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 800}, locale="zh-CN")
        yield context.pages[0] if context.pages else context.new_page()
        context.close()


def test_imagery_archive_answers_range_requests(web_server):
    r = httpx.get(web_server + "/basemap/imagery.pmtiles", headers={"Range": "bytes=0-126"}, timeout=60)
    assert r.status_code == 206
    assert r.content[:7] == b"PMTiles" and len(r.content) == 127
    assert r.headers["content-range"].startswith("bytes 0-126/")


@pytest.mark.browser
def test_map_page_renders_layers_and_switches_basemap(web_server, page, artifacts_dir):
    problems, ranges = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # tiles no longer needed after a zoom are aborted by MapLibre: not a failure
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
            if "ERR_ABORTED" not in (r.failure or "") else None)
    page.on("response", lambda r: ranges.append(r.status) if r.url.endswith("imagery.pmtiles") else None)
    page.on("request", lambda r: problems.append(f"outside request: {r.url}")
            if not r.url.startswith(web_server) and not r.url.startswith(("data:", "blob:")) else None)

    page.goto(web_server + "/")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
    page.evaluate(IDLE)
    assert page.title().startswith("仁和镇")

    def rendered(layers: list[str]) -> int:
        return page.evaluate("layers => map.queryRenderedFeatures({layers}).length", layers)

    # anonymous: the public layers only (the asset register needs a login), and no refused requests
    assert page.evaluate("map.getLayer('components-point')") is None
    assert page.evaluate("map.getLayer('officers-point')") is None
    assert page.locator("input[data-group='urban-components']").count() == 0
    assert rendered(["cases-point", "cases-cluster"]) > 0 and rendered(["unit-grids-line"]) > 20
    page.fill("#login-form input[name=username]", "web.leader")
    page.fill("#login-form input[name=password]", "wrong password")
    page.click("#login-form button")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert "密码错误" in page.inner_text("#login-error")
    problems.clear()  # the refused login (401) is logged by the browser: expected
    page.fill("#login-form input[name=password]", WEB_PASSWORD)
    with page.expect_navigation():
        page.click("#login-form button")
    page.wait_for_function("document.getElementById('whoami').hidden === false && document.body.dataset.ready === '1'",
                           timeout=60_000)
    assert "领导" in page.inner_text("#user-name")
    cookie = next(c for c in page.context.cookies() if c["name"] == "civicgrid_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.evaluate(IDLE)
    # a leader watches the officers (网格员位置)
    assert page.locator("input[data-group='officer-latest']").count() == 1
    page.wait_for_function("map.querySourceFeatures('officer-latest').length === 1")
    page.evaluate(IDLE)
    assert rendered(["officers-point"]) == 1

    assert rendered(["components-point", "components-cluster"]) > 100
    assert rendered(["cases-point", "cases-cluster"]) > 0
    assert rendered(["unit-grids-line"]) > 20
    labels = page.evaluate("map.queryRenderedFeatures({layers: ['community-label']}).map(f => f.properties.name)")
    assert "测试社区" in labels
    page.screenshot(path=str(artifacts_dir / "web_map_vector.png"))

    # layer switcher: components off → none rendered; on again
    page.uncheck("input[data-group='urban-components']")
    page.evaluate(IDLE)
    assert rendered(["components-point", "components-cluster"]) == 0
    page.check("input[data-group='urban-components']")
    page.evaluate("map.jumpTo({zoom: 15.5})")   # every component drawn from zoom 14 on
    page.evaluate(IDLE)
    page.wait_for_function("map.queryRenderedFeatures({layers: ['components-point']}).length > 0")

    # click a component → popup with its Chinese field names
    point = page.evaluate("""() => {
        const f = map.queryRenderedFeatures({layers: ['components-point']})[0];
        return map.project(f.geometry.coordinates);
    }""")
    page.mouse.click(point["x"], point["y"] + 44)   # the map sits below the 44 px header
    page.wait_for_selector(".maplibregl-popup-content")
    assert "部件" in page.inner_text(".maplibregl-popup-content")

    # imagery basemap (影像) from the PMTiles archive through range requests
    page.check("input[name=basemap][value=imagery]")
    page.wait_for_function("map.isSourceLoaded('imagery')", timeout=60_000)
    page.evaluate(IDLE)
    assert page.evaluate("map.getLayoutProperty('imagery', 'visibility')") == "visible"
    assert page.evaluate("map.getLayoutProperty('landuse', 'visibility')") == "none"
    assert 206 in ranges
    assert rendered(["components-point", "components-cluster"]) > 100
    page.screenshot(path=str(artifacts_dir / "web_map_imagery.png"))

    # full extent (全图) after zooming in
    page.evaluate("map.jumpTo({zoom: 18})")
    page.click("#full-extent")
    page.wait_for_function("map.getZoom() < 17", timeout=10_000)
    page.check("input[name=basemap][value=vector]")
    page.evaluate(IDLE)
    assert problems == []

    # 退出: back to the public map
    with page.expect_navigation():
        page.click("#logout")
    page.wait_for_function("document.getElementById('login-form').hidden === false && document.body.dataset.ready === '1'",
                           timeout=60_000)
    assert page.evaluate("map.getLayer('components-point')") is None
    assert problems == []
