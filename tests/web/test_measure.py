"""测量 and the tool bar in a real browser: a polyline of known geodesic length and a polygon of known
area are drawn by clicking the screen points of known lon/lat (map.project), measured within 1 %
of pyproj's GRS80 geodesics, then edited (a vertex dragged) and measured again. Every role's tool
bar shows exactly the tools /api/auth/me gives it.
"""
from __future__ import annotations

import pytest
from browser import ROLES, idle, open_map, shot
from pyproj import Geod

pytestmark = pytest.mark.browser
GEOD = Geod(ellps="GRS80")     # CGCS2000's ellipsoid


def screen(page, lon: float, lat: float) -> tuple[float, float]:
    p = page.evaluate("([lon, lat]) => window.__civicgrid.map.project([lon, lat])", [lon, lat])
    box = page.locator(".map-canvas").bounding_box()
    return box["x"] + p["x"], box["y"] + p["y"]


def click_at(page, lon, lat):
    x, y = screen(page, lon, lat)
    page.mouse.click(x, y)
    page.wait_for_timeout(120)


def items(page):
    return page.evaluate("JSON.parse(JSON.stringify(window.__civicgrid.measure.items))")


def line_length(points) -> float:
    return sum(GEOD.inv(a[0], a[1], b[0], b[1])[2] for a, b in zip(points, points[1:]))


def test_measure_a_line_and_a_polygon_then_edit(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    c = page.evaluate("(() => { const m = window.__civicgrid.map; m.jumpTo({zoom: 15}); return m.getCenter(); })()")
    idle(page)
    lon0, lat0 = c["lng"], c["lat"]
    page.click("#tool-bar [data-tool='measure']")
    page.wait_for_function("window.__civicgrid.draw && window.__civicgrid.measure")

    line = [(lon0 - 0.005, lat0 - 0.003), (lon0 + 0.001, lat0 - 0.001), (lon0 + 0.004, lat0 + 0.002)]
    for lon, lat in line:
        click_at(page, lon, lat)
    click_at(page, *line[-1])          # a second click on the last node ends the line
    page.wait_for_function("window.__civicgrid.draw.getSnapshot().some(f => f.geometry.type === 'LineString'"
                           " && f.geometry.coordinates.length === 3 && !f.properties.currentlyDrawing)")
    [measured] = [i for i in items(page) if i["kind"] == "line"]
    expected = line_length(line)
    assert abs(measured["length_m"] - expected) / expected < 0.01, (measured, expected)
    shown = page.inner_text("[data-measure='line'] .measure-value")
    assert shown == f"{measured['length_m']:,.2f} 米"

    page.click("[data-measure-mode='polygon']")
    square = [(lon0 - 0.006, lat0 + 0.0005), (lon0 - 0.001, lat0 + 0.0005), (lon0 - 0.001, lat0 + 0.003),
              (lon0 - 0.006, lat0 + 0.003)]
    for lon, lat in square:
        click_at(page, lon, lat)
    click_at(page, *square[0])          # closing on the first vertex
    page.wait_for_function("window.__civicgrid.measure.items.some(i => i.kind === 'area')"
                           " && window.__civicgrid.draw.getSnapshot().every(f => !f.properties.currentlyDrawing)")
    [area] = [i for i in items(page) if i["kind"] == "area"]
    lons, lats = zip(*square)
    expected_area, expected_perimeter = GEOD.polygon_area_perimeter(lons, lats)
    assert abs(area["area_m2"] - abs(expected_area)) / abs(expected_area) < 0.01, (area, expected_area)
    assert abs(area["perimeter_m"] - expected_perimeter) / expected_perimeter < 0.01
    text = page.inner_text("[data-measure='area']")
    assert "平方米" in text and "亩" in text
    mu = abs(expected_area) / (10000 / 15)
    assert f"{mu:,.2f} 亩"[:-4] in text      # the mu figure within rounding of the last digits
    shot(page, "web_measure")

    # editing: select the line, drag its middle node elsewhere; the length follows
    page.click("[data-measure-mode='select']")
    click_at(page, (line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2)
    page.wait_for_timeout(200)
    moved = (lon0 + 0.002, lat0 - 0.004)
    x, y = screen(page, *line[1])
    page.mouse.move(x, y)
    page.mouse.down()
    tx, ty = screen(page, *moved)
    page.mouse.move(tx, ty, steps=12)
    page.mouse.up()
    page.wait_for_timeout(200)
    [edited] = [i for i in items(page) if i["kind"] == "line"]
    expected = line_length([line[0], moved, line[2]])
    assert abs(edited["length_m"] - expected) / expected < 0.01, (edited, expected)
    assert page.problems == [] and page.outside == []


@pytest.mark.parametrize("role", [None, *ROLES])
def test_tool_bar_shows_exactly_the_tools_of_the_role(browser_page, role):
    page = browser_page(role)
    page.goto("/")
    page.wait_for_function("window.__civicgrid?.session?.loaded && window.__civicgrid.registry")
    given = set(page.request.get("/api/auth/me").json()["tools"])
    registered = page.evaluate("window.__civicgrid.registry.tools.map(t => [t.id, t.placement ?? 'bar'])")
    bar = {t for t, place in registered if place == "bar"}
    top = {t for t, place in registered if place == "topbar"}
    # top-bar tools are components loaded on demand: wait until as many as expected are drawn
    page.wait_for_function("([b, t]) => document.querySelectorAll('#tool-bar [data-tool]').length >= b"
                           " && document.querySelectorAll('.top-tools [data-tool]').length >= t",
                           arg=[len(given & bar), len(given & top)], timeout=15_000)
    page.wait_for_timeout(100)   # and nothing more than expected comes after
    shown = set(page.eval_on_selector_all("#tool-bar [data-tool]", "els => els.map(e => e.dataset.tool)"))
    shown_top = set(page.eval_on_selector_all(".top-tools [data-tool]", "els => els.map(e => e.dataset.tool)"))
    assert shown == given & bar
    assert shown_top == given & top
    if role is None:
        assert "plot" not in given
    assert page.problems == [] and page.outside == []
