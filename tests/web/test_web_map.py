"""The map page (一张图) in a real browser against the demo town.

Served: the Vite build (hashed assets cached for a year, index.html revalidated, client routes fall
back to the app, the server's own prefixes answer JSON 404s). Drawn: the layers the caller may read,
with the Chinese titles /ogc/collections gives them; vector and imagery basemaps (the PMTiles archive
read with range requests); the coordinate readout in CGCS2000 lon/lat and EPSG:4548; popups; the
officers' positions only for the roles allowed. No request leaves 127.0.0.1 and the console stays
clean. A phone-sized screen folds the panel into a drawer.
"""
from __future__ import annotations

import re

import httpx
import pytest
from browser import IDLE, idle, open_map, rendered, shot

pytestmark = pytest.mark.browser


def test_app_is_served_with_hashed_assets_and_client_routes(live_server):
    index = httpx.get(live_server + "/", timeout=30)
    assert index.status_code == 200 and index.headers["cache-control"] == "no-cache"
    assert '<div id="app">' in index.text
    assets = re.findall(r'/assets/[^"]+\.(?:js|css)', index.text)
    assert assets
    for asset in assets:
        r = httpx.get(live_server + asset, timeout=30)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    # a client route gets the app; the server's prefixes do not
    for route in ("/login", "/cases/12", "/some/deep/page"):
        r = httpx.get(live_server + route, timeout=30)
        assert r.status_code == 200 and r.text == index.text, route
    for path in ("/api/nothing-here", "/ogc/nothing-here", "/basemap/nothing.pmtiles", "/assets/missing-0000.js"):
        r = httpx.get(live_server + path, timeout=30)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/json") and r.json()["code"] == "NotFound"


def test_imagery_archive_answers_range_requests(live_server):
    r = httpx.get(live_server + "/basemap/imagery.pmtiles", headers={"Range": "bytes=0-126"}, timeout=120)
    assert r.status_code == 206
    assert r.content[:7] == b"PMTiles" and len(r.content) == 127


def layer_tree(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#layer-tree [data-group]')]
        .map(e => [e.dataset.group, e.querySelector('.layer-title').textContent.trim()]))""")


def test_anonymous_map_shows_public_layers(browser_page, artifacts):
    page = browser_page()
    open_map(page)
    assert page.title().startswith("仁和镇")
    titles = {c["id"]: c["title"] for c in page.request.get("/ogc/collections?f=json&lang=zh").json()["collections"]}
    tree = layer_tree(page)
    assert set(tree) == set(titles)          # every collection the visitor may read, nothing else
    assert tree == titles and all(re.search(r"[\u4e00-\u9fff]", t) for t in tree.values())
    assert "urban-components" not in tree and "officer-latest" not in tree
    assert page.evaluate("window.__civicgrid.map.getLayer('components-point')") is None
    assert rendered(page, ["cases-point", "cases-cluster"]) > 0 and rendered(page, ["unit-grids-line"]) > 20
    assert page.locator("#login-link").is_visible()
    assert page.locator("#tool-bar [data-tool='plot']").count() == 0      # 标绘 is for staff
    assert page.problems == [] and page.outside == []


def test_leader_map_layers_basemap_coordinates_popup(browser_page, artifacts):
    ranges = []
    page = browser_page("leader")
    page.on("response", lambda r: ranges.append(r.status) if r.url.endswith("imagery.pmtiles") else None)
    open_map(page)
    assert "web.leader" in page.inner_text("#user-name")
    tree = layer_tree(page)
    assert tree["urban-components"] == "城市管理部件" and tree["officer-latest"] == "网格员最新位置"
    page.wait_for_function("window.__civicgrid.map.querySourceFeatures('officer-latest').length > 0")
    idle(page)
    assert rendered(page, ["officers-point"]) > 0
    assert rendered(page, ["components-point", "components-cluster"]) > 50
    labels = page.evaluate("window.__civicgrid.map.queryRenderedFeatures({layers: ['community-label']})"
                           ".map(f => f.properties.name)")
    assert labels
    shot(page, "web_map_vector")

    # layer tree: off → none drawn, on again; opacity slider scales the paint
    page.locator("[data-group='urban-components'] .layer-toggle").click()
    idle(page)
    assert rendered(page, ["components-point", "components-cluster"]) == 0
    page.locator("[data-group='urban-components'] .layer-toggle").click()
    idle(page)
    assert rendered(page, ["components-point", "components-cluster"]) > 50
    page.evaluate("""() => {   // the store behind the slider
        const el = document.querySelector("[data-group='unit-grids'] .el-slider__runway");
        const box = el.getBoundingClientRect();
        el.dispatchEvent(new MouseEvent('mousedown', {clientX: box.left + box.width / 2, clientY: box.top + 2, bubbles: true}));
        window.dispatchEvent(new MouseEvent('mouseup', {clientX: box.left + box.width / 2, clientY: box.top + 2, bubbles: true}));
    }""")
    page.wait_for_function("window.__civicgrid.map.getPaintProperty('unit-grids-line', 'line-opacity') < 0.4")

    # coordinate readout: lon/lat and EPSG:4548 X/Y of the pointer
    box = page.locator(".map-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.getElementById('coord-plane').textContent.includes('X ')")
    lonlat = page.inner_text("#coord-lonlat")
    lon, lat = map(float, re.findall(r"(\d+\.\d+)°[EN]", lonlat))
    assert 116 < lon < 117.5 and 39.5 < lat < 41
    x, y = map(float, re.findall(r"[XY] (\d+\.\d+) m", page.inner_text("#coord-plane")))
    assert 4_300_000 < x < 4_600_000 and 400_000 < y < 520_000      # northing, easting of 3° zone 39 (117°E)
    page.click("#pick-coord")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#picked-coord")
    assert "平面坐标" in page.inner_text("#picked-coord")

    # click a component → popup with Chinese field names
    page.evaluate("window.__civicgrid.map.jumpTo({zoom: 15.5})")
    idle(page)
    page.wait_for_function("window.__civicgrid.map.queryRenderedFeatures({layers: ['components-point']}).length > 0")
    point = page.evaluate("""() => {
        const m = window.__civicgrid.map, c = m.getCanvas();
        const centre = {x: c.clientWidth / 2, y: c.clientHeight / 2};
        const points = m.queryRenderedFeatures({layers: ['components-point']})
            .filter(f => f.geometry.type === 'Point').map(f => m.project(f.geometry.coordinates));
        points.sort((a, b) => Math.hypot(a.x - centre.x, a.y - centre.y) - Math.hypot(b.x - centre.x, b.y - centre.y));
        return points[0];
    }""")
    canvas = page.locator(".map-canvas").bounding_box()
    page.mouse.click(canvas["x"] + point["x"], canvas["y"] + point["y"])
    page.wait_for_selector(".maplibregl-popup-content"), page.problems
    popup = page.inner_text(".maplibregl-popup-content")
    assert "城市部件" in popup and "部件名称" in popup

    # imagery basemap (影像) from the PMTiles archive through range requests
    page.click("[data-basemap='imagery']")
    page.wait_for_function("window.__civicgrid.map.isSourceLoaded('imagery')", timeout=60_000)
    idle(page)
    assert page.evaluate("window.__civicgrid.map.getLayoutProperty('imagery', 'visibility')") == "visible"
    assert page.evaluate("window.__civicgrid.map.getLayoutProperty('landuse', 'visibility')") == "none"
    assert 206 in ranges
    shot(page, "web_map_imagery")

    # 全图 after zooming in; PNG of the view
    page.evaluate("window.__civicgrid.map.jumpTo({zoom: 18})")
    page.click("#full-extent")
    page.wait_for_function("window.__civicgrid.map.getZoom() < 17", timeout=10_000)
    page.click("[data-basemap='vector']")
    idle(page)
    with page.expect_download() as download:
        page.click("#export-png")
    png = download.value
    assert png.suggested_filename.endswith(".png")
    data = open(png.path(), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert page.problems == [] and page.outside == []

    # 退出: back to the public map
    with page.expect_navigation():
        page.click("#logout")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
    page.evaluate(IDLE)
    assert page.evaluate("window.__civicgrid.map.getLayer('components-point')") is None
    assert page.problems == [] and page.outside == []


def test_login_page_names_the_wrong_field_and_logs_in(browser_page):
    page = browser_page()
    page.goto("/login")
    page.fill("#login-form input[name=username]", "web.dispatcher")
    page.fill("#login-form input[name=password]", "wrong password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(".el-form-item__error")
    assert "密码错误" in page.inner_text(".el-form-item.is-error")
    page.problems.clear()    # the refused login (401) is logged by the browser: expected
    from browser import WEB_PASSWORD

    page.fill("#login-form input[name=password]", WEB_PASSWORD)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
    assert "web.dispatcher" in page.inner_text("#user-name")
    cookie = next(c for c in page.context.cookies() if c["name"] == "civicgrid_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.problems == [] and page.outside == []


def test_phone_folds_the_panel_and_locates_me(browser_page, artifacts):
    page = browser_page("dispatcher", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                        geolocation={"longitude": 116.66, "latitude": 40.12}, permissions=["geolocation"])
    open_map(page)
    assert page.locator("#panel").count() == 0                # no side panel over the map
    assert not page.locator(".layer-drawer").is_visible()
    shot(page, "web_map_phone")
    page.click("#open-layers")
    page.wait_for_selector(".layer-drawer #layer-tree", state="visible")
    assert page.locator(".layer-drawer [data-group='cases']").count() == 1
    shot(page, "web_map_phone_layers")
    page.keyboard.press("Escape")
    page.wait_for_selector(".layer-drawer", state="hidden")
    page.click("#locate-me")
    page.wait_for_function("""() => { const c = window.__civicgrid.map.getCenter();
        return Math.abs(c.lng - 116.66) < 1e-4 && Math.abs(c.lat - 40.12) < 1e-4; }""", timeout=15_000)
    assert page.locator(".maplibregl-marker").count() == 1
    assert page.problems == [] and page.outside == []
