"""搜索 in the top bar: typing pinyin initials lists typed results in Chinese as one types; choosing
one flies there and highlights it."""
from __future__ import annotations

import pytest
from browser import open_map, shot

pytestmark = pytest.mark.browser


def test_search_rhz_finds_the_town_government_and_flies_there(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    box = page.locator(".top-tools [data-tool='search'] input")
    box.click()
    box.press_sequentially("rhz", delay=60)
    page.wait_for_selector(".search-results .search-item", state="visible")
    first = page.locator(".search-results .search-item").first
    assert "仁和镇人民政府" in first.inner_text()
    assert "兴趣点" in first.locator(".search-type").inner_text()
    shot(page, "web_search")
    first.click()
    page.wait_for_function("window.__civicgrid.searchChosen && window.__civicgrid.map.getSource('highlight')")
    item = page.evaluate("window.__civicgrid.searchChosen")
    page.wait_for_function("""([lon, lat]) => { const m = window.__civicgrid.map, c = m.getCenter();
        return !m.isMoving() && Math.abs(c.lng - lon) < 1e-4 && Math.abs(c.lat - lat) < 1e-4 && m.getZoom() >= 16.9; }""",
                           arg=item["point"], timeout=15_000)
    page.wait_for_function("window.__civicgrid.map.queryRenderedFeatures({layers: ['highlight-point']}).length > 0")
    assert page.problems == [] and page.outside == []


def test_search_outlines_a_community(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    name = page.request.get("/api/search?q=社区&types=community&limit=1").json()["items"][0]["title"]
    box = page.locator(".top-tools [data-tool='search'] input")
    box.fill(name)
    page.wait_for_selector(".search-results .search-item[data-type='community']", state="visible")
    page.locator(".search-results .search-item[data-type='community']").first.click()
    page.wait_for_function("window.__civicgrid.map.getLayer('highlight-line')"
                           " && window.__civicgrid.map.queryRenderedFeatures({layers: ['highlight-line']}).length > 0",
                           timeout=15_000)
    assert page.problems == [] and page.outside == []
