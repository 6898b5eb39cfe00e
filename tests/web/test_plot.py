"""标绘 in a real browser: a dispatcher draws a polygon, an arrow and a text label, saves them as a
plan all staff may see; a leader opens the map, finds the plan in the list, reopens it and sees the
same shapes; the plan exports as GeoJSON. Needs the plans API (/api/plans) and the `annotations`
collection."""
from __future__ import annotations

import pytest
from browser import idle, open_map, shot

pytestmark = pytest.mark.browser


def click_lonlat(page, lon, lat):
    p = page.evaluate("([lon, lat]) => window.__civicgrid.map.project([lon, lat])", [lon, lat])
    box = page.locator(".map-canvas").bounding_box()
    page.mouse.click(box["x"] + p["x"], box["y"] + p["y"])
    page.wait_for_timeout(120)


def start_plot(page):
    open_map(page)
    page.evaluate("window.__civicgrid.map.jumpTo({zoom: 15})")
    idle(page)
    page.click("#tool-bar [data-tool='plot']")
    page.wait_for_function("window.__civicgrid.draw && window.__civicgrid.plot")
    return page.evaluate("window.__civicgrid.map.getCenter()")


def test_plan_drawn_saved_and_reopened_by_a_colleague(browser_page, live_server):
    if browser_page("dispatcher").request.get("/api/plans").status == 404:
        pytest.skip("the plans API (/api/plans) is not on this branch yet")
    page = browser_page("dispatcher")
    c = start_plot(page)
    lon0, lat0 = c["lng"], c["lat"]

    page.click("[data-plot-kind='polygon']")
    ring = [(lon0 - 0.004, lat0 - 0.001), (lon0 - 0.001, lat0 - 0.001), (lon0 - 0.001, lat0 + 0.001)]
    for q in ring:
        click_lonlat(page, *q)
    click_lonlat(page, *ring[0])
    page.click("[data-plot-kind='arrow']")
    for q in [(lon0, lat0 - 0.002), (lon0 + 0.003, lat0)]:
        click_lonlat(page, *q)
    click_lonlat(page, lon0 + 0.003, lat0)
    page.click("[data-plot-kind='text']")
    page.fill("[data-plot-text] input", "集结点")
    click_lonlat(page, lon0 + 0.002, lat0 + 0.0015)
    page.wait_for_function("window.__civicgrid.plot.state.shapes === 3")
    assert page.evaluate("window.__civicgrid.map.queryRenderedFeatures({layers: ['plot-arrow-heads']}).length") > 0

    name = "防汛巡查标绘"
    page.click("[data-plot-save-as]")
    page.fill("[data-plot-name] input", name)
    page.click("[data-plot-confirm]")
    page.wait_for_function("window.__civicgrid.plot.state.plan && !window.__civicgrid.plot.state.dirty"
                           " && !window.__civicgrid.plot.state.busy", timeout=20_000)
    shot(page, "web_plot")
    plan_id = page.evaluate("window.__civicgrid.plot.state.plan.id")
    exported = page.request.get(f"/api/plans/{plan_id}/export").json()
    assert exported["type"] == "FeatureCollection"
    assert sorted(f["properties"]["kind"] for f in exported["features"]) == ["arrow", "polygon", "text"]
    assert page.problems == [] and page.outside == []

    other = browser_page("leader")
    start_plot(other)
    other.wait_for_function("window.__civicgrid.plot.state.plans.length > 0")
    other.click("[data-plot-plans]")
    other.locator(".el-select-dropdown__item", has_text=name).first.click()
    other.wait_for_function("window.__civicgrid.plot.state.plan && window.__civicgrid.plot.state.shapes === 3",
                            timeout=20_000)
    kinds = other.evaluate("window.__civicgrid.draw.getSnapshot().map(f => f.properties.kind).filter(Boolean).sort()")
    assert kinds == ["arrow", "polygon", "text"]
    other.wait_for_function("window.__civicgrid.map.queryRenderedFeatures({layers: ['plot-text']}).length > 0")
    assert other.problems == [] and other.outside == []
