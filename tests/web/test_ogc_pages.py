"""The /ogc HTML pages work offline: Bootstrap and Leaflet come from /ogc/vendor (web/package.json),
not from CDNs, and nothing any of them fetches leaves 127.0.0.1 (every request is recorded)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = ["/ogc/", "/ogc/collections", "/ogc/collections/pois", "/ogc/collections/pois/items",
         "/ogc/collections/unit-grids/items?limit=20", "/ogc/conformance", "/ogc/openapi?f=html"]


def _requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


@pytest.mark.parametrize("path", PAGES)
def test_public_ogc_pages_fetch_nothing_from_outside(browser_page, path):
    page = browser_page()
    seen = _requests(page)
    r = page.goto(path + ("&" if "?" in path else "?") + "f=html" if "f=html" not in path else path)
    assert r.ok, (path, r.status)
    page.wait_for_load_state("networkidle")
    assert page.outside == [], page.outside
    assert not [u for u in seen if not u.startswith(page.base)], seen
    assert not [p for p in page.problems if "favicon" not in p], page.problems
    assert "bootstrap" in page.content() or path.startswith("/ogc/openapi")


def test_items_map_renders_features(browser_page, artifacts):
    page = browser_page()
    page.goto("/ogc/collections/pois/items?f=html&limit=50")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(".leaflet-container")
    # Leaflet draws the POIs as markers (or clusters of them) in its marker pane
    count = page.evaluate("document.querySelectorAll('.leaflet-marker-icon, .leaflet-interactive').length")
    assert count > 0
    assert page.evaluate("typeof L") == "object" and page.outside == []
    page.screenshot(path=str(artifacts / "ogc-pois-items.png"))


def test_a_process_page_for_staff(browser_page):
    page = browser_page("leader")
    seen = _requests(page)
    for path in ("/ogc/processes?f=html", "/ogc/processes/heatmap?f=html"):
        r = page.goto(path)
        assert r.ok, (path, r.status)
        page.wait_for_load_state("networkidle")
    assert page.outside == [] and not [u for u in seen if not u.startswith(page.base)]
    assert "heatmap" in page.content()


def test_vendor_files_are_served_and_nothing_else(live_server):
    import httpx

    ok = httpx.get(live_server + "/ogc/vendor/leaflet/leaflet.js")
    assert ok.status_code == 200 and "javascript" in ok.headers["content-type"] and "max-age" in ok.headers["cache-control"]
    assert httpx.get(live_server + "/ogc/vendor/bootstrap/css/bootstrap.min.css").status_code == 200
    for bad in ("/ogc/vendor/vite/package.json", "/ogc/vendor/leaflet/../../vite/package.json", "/ogc/vendor/leaflet"):
        assert httpx.get(live_server + bad).status_code == 404, bad
