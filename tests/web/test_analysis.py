"""热力图, 热点分析, 聚类 and 专题图 in a real browser: each tool runs its OGC API process and draws
the answer — the cells the map renders are the cells the same process request over HTTP returns;
the time slider re-runs the heatmap for one window of the range; the kernel density comes as an
image placed on the map; hotspots, DBSCAN clusters and the area-evaluation choropleth render with
their legends. No console errors, nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import re

import pytest
from browser import idle, open_map, shot

pytestmark = pytest.mark.browser


def choose(page, trigger, text: str) -> None:
    trigger.click()
    page.wait_for_timeout(250)
    page.locator(".el-select-dropdown__item:visible").filter(has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$")).first.click()
    page.wait_for_timeout(250)


def process(page, pid: str, inputs: dict) -> dict:
    token = page.request.get("/api/auth/me").json()["csrf_token"]
    r = page.request.post(f"/ogc/processes/{pid}/execution", data={"inputs": inputs},
                          headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert r.ok, r.text()
    return r.json()


def state(page, tool: str) -> dict:
    return page.evaluate(f"JSON.parse(JSON.stringify(window.__civicgrid.{tool}.state))")


def run(page, tool: str, action: str, done: str) -> dict:
    page.click(f"[data-action={action}]")
    page.wait_for_function(f"!window.__civicgrid.{tool}.state.busy && ({done})")
    idle(page)
    return state(page, tool)


def rendered(page, layer: str) -> int:
    return page.evaluate(f"window.__civicgrid.map.queryRenderedFeatures({{layers: ['{layer}']}}).length")


def open_tool(page, tool: str, panel: str) -> None:
    page.click(f"#tool-bar [data-tool='{tool}']")
    page.wait_for_selector(f"[data-testid={panel}]")


def test_heatmap_cells_time_slider_and_density(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    open_tool(page, "heatmap", "heatmap-panel")
    s = run(page, "heatmap", "run-heatmap", "window.__civicgrid.heatmap.state.cells > 0")
    answer = process(page, "heatmap", {"source": "cases", "method": "square", "cell_size": 200})
    assert s["cells"] == len(answer["features"]) and s["total"] == answer["total"] > 0
    assert rendered(page, "heatmap-cells-fill") > 0
    assert page.locator("[data-testid=legend] li").count() >= 2

    choose(page, page.locator("[data-field=method]"), "六边形")
    s = run(page, "heatmap", "run-heatmap", "window.__civicgrid.heatmap.state.cells > 0")
    assert s["cells"] == len(process(page, "heatmap", {"source": "cases", "method": "hexagon", "cell_size": 200})["features"])
    assert rendered(page, "heatmap-cells-fill") > 0

    # the time slider: a month of the range at a time
    last = page.request.get("/api/cases?limit=1&order=-reported_at").json()["cases"][0]["reported_at"][:10]
    first = f"{last[:8]}01"
    inputs = page.locator("[data-testid=heatmap-panel] .el-range-input")
    inputs.first.click()
    inputs.first.fill(first)
    inputs.nth(1).fill(last)
    inputs.nth(1).press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_function("window.__civicgrid.heatmap.state.form.dates?.[1]")
    choose(page, page.locator("[data-testid=time-slider] .el-select"), "按日")
    page.locator("[data-testid=time-slider] .el-slider__button-wrapper").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("window.__civicgrid.heatmap.state.windowLabel && !window.__civicgrid.heatmap.state.busy")
    s = state(page, "heatmap")
    day = s["windowLabel"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", day)
    answer = process(page, "heatmap", {"source": "cases", "method": "hexagon", "cell_size": 200,
                                       "start": f"{day}T00:00:00+08:00", "end": f"{next_day(day)}T00:00:00+08:00"})
    assert s["cells"] == len(answer["features"]) and s["total"] == answer["total"]

    choose(page, page.locator("[data-field=method]"), "核密度（KDE）")
    run(page, "heatmap", "run-heatmap", "window.__civicgrid.heatmap.state.kdeUrl")
    source = page.evaluate("(() => { const s = window.__civicgrid.map.getSource('heatmap-kde'); "
                           "return s && {type: s.type, corners: s.coordinates}; })()")
    assert source["type"] == "image" and len(source["corners"]) == 4
    b = page.evaluate("(() => { const b = window.__civicgrid.map.getBounds();"
                      " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    xs, ys = [c[0] for c in source["corners"]], [c[1] for c in source["corners"]]
    assert min(xs) <= b[0] + 1e-3 and max(xs) >= b[2] - 1e-3 and min(ys) <= b[1] + 1e-3 and max(ys) >= b[3] - 1e-3
    assert page.evaluate("!!window.__civicgrid.map.getLayer('heatmap-kde-raster')")
    shot(page, "web_heatmap")
    assert page.problems == [] and page.outside == []


def next_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def test_hotspots_clusters_and_thematic_map(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    open_tool(page, "hotspots", "hotspots-panel")
    s = run(page, "hotspots", "run-hotspots", "window.__civicgrid.hotspots.state.cells > 0")
    answer = process(page, "hotspots", {"source": "cases", "units": "cells", "cell_size": 300, "neighbours": "queen", "fdr": False})
    assert (s["cells"], s["hot"], s["cold"]) == (len(answer["features"]), answer["hot"], answer["cold"]) and s["hot"] > 0
    assert rendered(page, "hotspot-cells-fill") > 0
    assert "热点（99% 置信度）" in page.inner_text("[data-testid=legend]")
    shot(page, "web_hotspots")

    open_tool(page, "clusters", "clusters-panel")
    s = run(page, "clusters", "run-clusters", "window.__civicgrid.clusters.state.features.length > 0")
    answer = process(page, "cluster", {"source": "cases", "eps": 100, "minpoints": 10})
    assert len(s["features"]) == answer["numberMatched"] and s["noise"] == answer["noise"]
    assert rendered(page, "cluster-hulls-fill") > 0

    open_tool(page, "thematic", "thematic-panel")
    choose(page, page.locator("[data-field=level]"), "社区/村")
    s = run(page, "thematic", "run-thematic", "window.__civicgrid.thematic.state.features.length > 0")
    start, end = s["form"]["dates"]
    answer = process(page, "area-evaluation", {"level": "community", "start": f"{start}T00:00:00+08:00",
                                               "end": f"{next_day(end)}T00:00:00+08:00"})
    assert len(s["features"]) == len([f for f in answer["features"] if f["geometry"]])
    scores = {f["properties"]["code"]: f["properties"]["score"] for f in answer["features"]}
    assert {f["properties"]["code"]: f["properties"]["score"] for f in s["features"]} == scores
    assert rendered(page, "thematic-areas-fill") > 0
    assert page.locator("[data-testid=legend] li").count() >= 3
    choose(page, page.locator("[data-field=indicator]"), "结案率")
    assert "%" in page.inner_text("[data-testid=legend]")
    shot(page, "web_thematic")
    assert page.problems == [] and page.outside == []
