"""空间与属性查询 and 识别 in a real browser: a rectangle and a polygon drawn on the map return the
same count as the equivalent CQL2 S_INTERSECTS request over HTTP; a 20 m buffer around a clicked
point with component classes finds exactly the components of those classes within 20 m; the
attribute builder's CQL2 matches a hand-written cql2-text filter; the result table and the map are
linked both ways; CSV, GeoJSON and XLSX downloads hold one row per result; identify names fields
and values in Chinese. No console errors, nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import json
import re
import zipfile

import pytest
from browser import idle, open_map, shot
from pyproj import Geod

pytestmark = pytest.mark.browser
GEOD = Geod(ellps="GRS80")
STATE = "JSON.parse(JSON.stringify(window.__civicgrid.query.state))"


def screen(page, lon: float, lat: float) -> tuple[float, float]:
    p = page.evaluate("([lon, lat]) => window.__civicgrid.map.project([lon, lat])", [lon, lat])
    box = page.locator(".map-canvas").bounding_box()
    return box["x"] + p["x"], box["y"] + p["y"]


def click_at(page, lon, lat):
    page.mouse.click(*screen(page, lon, lat))
    page.wait_for_timeout(150)


def start(page, zoom=16):
    open_map(page)
    # the town's middle, left of the panel (which covers the right of the screen)
    c = page.evaluate(f"""(() => {{ const m = window.__civicgrid.map; const c = m.getCenter();
        m.jumpTo({{zoom: {zoom}, center: [c.lng + 0.004, c.lat]}}); return m.unproject([420, 450]); }})()""")
    idle(page)
    page.click("#tool-bar [data-tool='query']")
    page.wait_for_selector("[data-testid=query-panel]")
    page.wait_for_function("window.__civicgrid.query && Object.keys(window.__civicgrid.query.state).length")
    return c["lng"], c["lat"]


def choose(page, trigger, text: str) -> None:
    """Open an Element Plus select and pick the option shown as `text`."""
    trigger.click()
    page.wait_for_timeout(250)
    page.locator(".el-select-dropdown__item:visible").filter(has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$")).first.click()
    page.wait_for_timeout(250)


def run(page) -> dict:
    page.click("[data-action=run-query]")
    page.wait_for_function("!window.__civicgrid.query.state.busy && window.__civicgrid.query.state.count !== null")
    return page.evaluate(STATE)


def http_count(page, collection: str, params: dict) -> int:
    r = page.request.get(f"/ogc/collections/{collection}/items", params={"f": "json", "limit": "10000", **params})
    assert r.ok, r.text()
    doc = r.json()
    assert len(doc["features"]) < 10000
    return doc.get("numberMatched", len(doc["features"]))


def wkt(ring) -> str:
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"


def test_drawn_rectangle_and_polygon_count_as_cql2_over_http(browser_page):
    page = browser_page("dispatcher")
    lon, lat = start(page)
    page.click("[data-area=rectangle]")
    corner = (lon + 0.004, lat - 0.003)
    click_at(page, lon, lat)
    click_at(page, *corner)
    page.wait_for_function("window.__civicgrid.query.state.area")
    s = run(page)
    ring = s["area"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    assert abs(min(xs) - lon) < 1e-4 and abs(max(xs) - corner[0]) < 1e-4 and abs(max(ys) - lat) < 1e-4
    expected = http_count(page, "urban-components", {"filter-lang": "cql2-text",
                                                      "filter": f"S_INTERSECTS(geometry, {wkt(ring)})"})
    assert s["count"] == expected > 0 and len(s["features"]) == expected
    assert f"共 {expected} 条" in page.inner_text("[data-testid=query-count]")
    assert f"共 {expected} 条" in page.inner_text(".result-pager") or expected <= 10
    idle(page)
    drawn = page.evaluate("window.__civicgrid.map.queryRenderedFeatures({layers: ['query-results-point', "
                          "'query-results-line', 'query-results-fill']}).length")
    assert drawn > 0

    # a polygon: four vertices, closed on the first; points of interest this time
    choose(page, page.locator("[data-field=collection]"), "兴趣点")
    page.wait_for_function("window.__civicgrid.query.state.collection === 'pois'")
    page.click("[data-area=polygon]")
    poly = [(lon - 0.002, lat + 0.001), (lon + 0.006, lat + 0.0015), (lon + 0.005, lat - 0.004), (lon - 0.001, lat - 0.003)]
    for p in poly:
        click_at(page, *p)
    click_at(page, *poly[0])
    page.wait_for_function("window.__civicgrid.query.state.area?.coordinates[0].length === 5")
    s = run(page)
    expected = http_count(page, "pois", {"filter-lang": "cql2-text",
                                         "filter": f"S_INTERSECTS(geometry, {wkt(s['area']['coordinates'][0])})"})
    assert s["count"] == expected
    assert page.problems == [] and page.outside == []


def test_buffer_around_a_point_finds_the_classes_within_the_radius(browser_page):
    page = browser_page("dispatcher")
    lon, lat = start(page, zoom=17)
    # the component nearest the screen point, and its class: a buffer around it cannot be empty
    near = page.request.get("/ogc/collections/urban-components/items", params={
        "f": "json", "limit": "1", "bbox": f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}"}).json()["features"][0]
    centre = near["geometry"]["coordinates"] if near["geometry"]["type"] == "Point" else (lon, lat)
    klass = near["properties"]["type_code"]
    page.evaluate("c => window.__civicgrid.map.jumpTo({center: c})", list(centre))
    idle(page)
    page.click("[data-field=classes]")
    page.keyboard.type(klass)
    page.click(f".el-select-dropdown__item:visible:has-text('（{klass}）')")
    page.keyboard.press("Escape")
    page.fill("[data-field=radius] input", "20")
    page.locator("[data-field=radius] input").blur()
    page.click("[data-area=buffer]")
    click_at(page, *centre)
    page.wait_for_function("window.__civicgrid.query.state.area?.type === 'Polygon'")
    s = run(page)
    assert s["classes"] == [klass] and s["count"] >= 1
    assert GEOD.inv(*centre, *s["centre"])[2] < 3           # the clicked point, within a few pixels
    centre = s["centre"]
    filter_json = page.evaluate("JSON.stringify(window.__civicgrid.query.buildFilter())")
    assert http_count(page, "urban-components", {"filter-lang": "cql2-json", "filter": filter_json}) == s["count"]
    for f in s["features"]:
        assert f["properties"]["type_code"] == klass
        if f["geometry"]["type"] == "Point":
            x, y = f["geometry"]["coordinates"]
            assert GEOD.inv(centre[0], centre[1], x, y)[2] <= 20.5
    ring = s["area"]["coordinates"][0]
    assert all(abs(GEOD.inv(centre[0], centre[1], x, y)[2] - 20) < 0.1 for x, y in ring)   # turf's sphere
    # and every point component of the class within 19.9 m is among them
    around = page.request.get("/ogc/collections/urban-components/items", params={
        "f": "json", "limit": "1000", "bbox": f"{centre[0] - 0.001},{centre[1] - 0.001},{centre[0] + 0.001},{centre[1] + 0.001}",
        "filter": f"type_code = '{klass}'"}).json()["features"]
    inside = {f["id"] for f in around if f["geometry"]["type"] == "Point"
              and GEOD.inv(centre[0], centre[1], *f["geometry"]["coordinates"])[2] <= 19.9}
    assert inside and inside <= {f["id"] for f in s["features"]}
    assert page.problems == [] and page.outside == []


def test_attribute_builder_table_map_links_and_exports(browser_page, tmp_path):
    page = browser_page("dispatcher")
    lon, lat = start(page)
    page.click("[data-area=view]")
    page.click("[data-action=add-condition]")
    row = page.locator("[data-condition='0']")
    choose(page, row.locator(".q-field"), "部件状态")
    choose(page, row.locator(".q-op"), "不等于")
    choose(page, row.locator(".q-value"), "完好")
    s = run(page)
    assert s["conditions"][0]["property"] == "status" and s["conditions"][0]["value"] == "完好", s["conditions"]
    b = page.evaluate("(() => { const b = window.__civicgrid.map.getBounds();"
                      " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    view = wkt([(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3]), (b[0], b[1])])
    expected = http_count(page, "urban-components", {"filter-lang": "cql2-text",
                                                      "filter": f"S_INTERSECTS(geometry, {view}) AND status <> '完好'"})
    assert s["count"] == expected > 0
    assert "status <> '完好'" in s["cql"]

    # table → map: hovering a row marks its feature; clicking flies to it
    first = page.locator(".result-table .el-table__row").first
    first.hover()
    rid = page.evaluate("window.__civicgrid.query.state.features[0]._rid")      # page 1, unsorted
    page.wait_for_function("id => window.__civicgrid.map.getFeatureState({source: 'query-results', id}).hover === true", arg=rid)
    first.click()
    page.wait_for_function("window.__civicgrid.query.state.selected !== null")
    selected = page.evaluate("window.__civicgrid.query.state.selected")
    page.wait_for_function("!window.__civicgrid.map.isMoving()")
    idle(page)
    assert page.evaluate("id => window.__civicgrid.map.getFeatureState({source: 'query-results', id}).selected", selected)
    # map → table: clicking another result on the map selects its row
    other = page.evaluate("""() => { const m = window.__civicgrid.map; const sel = window.__civicgrid.query.state.selected;
        const f = m.queryRenderedFeatures({layers: ['query-results-point']}).find(f => f.properties._rid !== sel
          && m.project(f.geometry.coordinates).x < 700);
        return f && {rid: f.properties._rid, at: f.geometry.coordinates}; }""")
    if other:
        click_at(page, *other["at"])
        page.wait_for_function("id => window.__civicgrid.query.state.selected === id", arg=other["rid"])
        page.wait_for_selector(".result-table tr.is-picked")

    count = s["count"]
    for fmt in ("csv", "geojson", "xlsx"):
        page.click("[data-action=export]")
        with page.expect_download() as info:
            page.click(f".el-dropdown-menu__item[data-export={fmt}]:visible")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.suffix == f".{fmt}" and path.name.startswith("查询结果-城市管理部件")
        if fmt == "csv":
            text = path.read_bytes().decode("utf-8-sig")
            lines = [line for line in text.split("\r\n") if line]
            assert len(lines) == count + 1 and "部件状态" in lines[0]
        elif fmt == "geojson":
            assert len(json.loads(path.read_text(encoding="utf-8"))["features"]) == count
        else:
            with zipfile.ZipFile(path) as z:
                sheet = z.read("xl/worksheets/sheet1.xml").decode()
            assert len(re.findall(r"<row[ >]", sheet)) == count + 1
    shot(page, "web_query")
    assert page.problems == [] and page.outside == []


def test_identify_lists_every_visible_layer_in_chinese(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    page.evaluate("(() => { const m = window.__civicgrid.map; m.jumpTo({zoom: 17}); })()")
    idle(page)
    page.click("#tool-bar [data-tool='identify']")
    page.wait_for_selector("[data-testid=identify-panel]")
    box = page.locator(".map-canvas").bounding_box()
    page.mouse.click(box["x"] + 500, box["y"] + 450)
    page.wait_for_function("window.__civicgrid.identify.state.results.length && !window.__civicgrid.identify.state.busy")
    results = page.evaluate("JSON.parse(JSON.stringify(window.__civicgrid.identify.state.results))")
    groups = {r["group"] for r in results}
    assert {"单元网格", "社区/村"} <= groups, groups
    grid = next(r for r in results if r["group"] == "单元网格")
    names = {row["name"] for row in grid["rows"]}
    assert all(re.search(r"[\u4e00-\u9fff]", n) for n in names), names
    page.wait_for_selector("[data-testid=identify-panel] .el-collapse-item")
    assert page.locator("[data-testid=identify-panel]").inner_text().count("单元网格") >= 1
    assert page.problems == [] and page.outside == []
