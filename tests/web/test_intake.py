"""受理 (/intake) in a real browser, on a private copy of the demo town: the intake operator takes one
report per channel in one page load (连续受理) — a 12345 transfer located by its address, one that cannot be
located (flagged 待定位, then located on the case page's map), a public report by phone with the caller's
number masked, one placed through the search box, a component problem picked by ID, a video-patrol case
from a camera clicked on the map with its snapshot — sees the duplicate suggestion of an existing case on
the map and in the list and merges the report into it (shown on that case's timeline), and reads the
district's pushes; a grid officer reports on a phone by GPS (the patrol form pointing to 巡查上报 for
self-handling) and the case page opens.
"""
from __future__ import annotations

import re
import time

import pytest
from browser import api_as, click_case_map, open_intake, pick_category, shot
from databases import copy_demo, drop_database, serving

from civicgrid.cases.testing import png_bytes
from civicgrid.db import connect

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def town(web_users, pg_admin_url):
    """A copy of the demo town (with the web users) served by its own server, and what the tests use of it."""
    url = copy_demo(pg_admin_url)
    try:
        with connect(url) as conn:
            facts = conn.execute("""
                SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (   -- a point in web.grid_officer's first unit grid
                    SELECT ST_PointOnSurface(ug.geom) AS p FROM officer o
                    JOIN responsibility_grid rg ON rg.officer_id = o.id
                    JOIN responsibility_grid_member m ON m.responsibility_grid_code = rg.code
                    JOIN unit_grid ug ON ug.code = m.unit_grid_code
                    WHERE o.code = (SELECT code FROM officer ORDER BY code LIMIT 1) ORDER BY ug.code LIMIT 1) x""").fetchone()
            facts["poi"] = conn.execute("SELECT name FROM poi WHERE length(name) >= 4 ORDER BY id LIMIT 1").fetchone()["name"]
            facts["component_id"] = conn.execute("SELECT id FROM component WHERE length(id) = 17 ORDER BY id LIMIT 1").fetchone()["id"]
            facts["component_point"] = conn.execute(   # a point component with no other one within ~35 m
                "SELECT c.id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat FROM component c "
                "WHERE GeometryType(c.geom) = 'POINT' AND NOT EXISTS (SELECT 1 FROM component o WHERE o.id <> c.id "
                "AND ST_DWithin(o.geom, c.geom, 0.0004)) ORDER BY c.id LIMIT 1").fetchone()
            facts["camera"] = conn.execute("SELECT code, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM camera WHERE active "
                                           "ORDER BY code LIMIT 1").fetchone()
        with serving(url) as base:
            yield {"url": url, "base": base, **facts}
    finally:
        drop_database(pg_admin_url, url)


def case_row(town, number: str) -> dict:
    with connect(town["url"]) as conn:
        return conn.execute("""SELECT c.*, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
                                      (SELECT array_agg(role) FROM case_attachment a WHERE a.case_id = c.id) AS photo_roles
                               FROM cases c WHERE case_number = %s""", [number]).fetchone()


def channel(page, code: str) -> None:
    page.click(f"[data-testid=intake-channels] [data-channel='{code}']")
    page.wait_for_selector(f"[data-testid=intake-form][data-channel='{code}'], [data-testid=district-pushes]")


def click_map(page, lon: float, lat: float, scope: str = "[data-testid=intake-page]") -> None:
    click_case_map(page, lon, lat, scope)


def category(page, query: str, name: str) -> None:
    pick_category(page, "[data-testid=intake-form] [data-field='category_code']", query, name)


def submit_and_stay(page, before: str | None) -> str:
    """Send the form (连续受理 on) and return the number of the case taken."""
    page.click("[data-testid=intake-submit]")
    page.wait_for_function("""before => { const a = document.querySelector('[data-testid=last-case]');
        return a && a.textContent.trim() !== before; }""", arg=before or "", timeout=30_000)
    return page.inner_text("[data-testid=last-case]").strip()


def test_every_channel_duplicates_and_merge(town, browser_page):
    officer = api_as(town["base"], "grid_officer")
    existing = officer.post("/api/cases", json={"channel": "patrol", "category_code": "06010", "lon": town["lon"],
                                                "lat": town["lat"], "description": "已上报的暴露垃圾"})
    assert existing.status_code == 201, existing.text
    existing = existing.json()
    pushed = api_as(town["base"], "intake_operator").post("/api/cases", json={
        "channel": "district", "category_code": "06010", "external_id": f"SY-{time.time_ns()}", "address": town["poi"]})
    assert pushed.status_code == 201, pushed.text

    page = browser_page("intake_operator", viewport={"width": 1920, "height": 1080}, base=town["base"])
    open_intake(page)
    names = page.eval_on_selector_all("[data-testid=intake-channels] [data-channel]", "els => els.map(e => e.dataset.channel)")
    assert set(names) == {"public", "hotline", "component", "video", "district"}   # no patrol: the officers' own
    page.click("[data-testid=intake-stay]")

    # 12345 located by its address (a POI named in it)
    channel(page, "hotline")
    page.fill("input[data-field='address']", f"{town['poi']}门口")
    category(page, "bllj", "暴露垃圾")
    page.wait_for_function("document.querySelector('[data-testid=place-hint]').textContent.includes('按地址定位')")
    page.fill("[data-field='external_id'] input", f"12345-{time.time_ns()}")
    located = submit_and_stay(page, None)
    row = case_row(town, located)
    assert row["channel"] == "hotline" and not row["needs_location"] and row["external_id"].startswith("12345-")

    # 12345 that cannot be located: flagged 待定位
    page.fill("input[data-field='address']", "来电人说不清的地方")
    category(page, "bllj", "暴露垃圾")
    page.wait_for_function("document.querySelector('[data-testid=place-hint]').textContent.includes('待定位')")
    unlocated = submit_and_stay(page, located)
    assert "待定位" in page.inner_text("[data-testid=intake-last]")
    assert case_row(town, unlocated)["needs_location"]

    # a public report taken by phone, placed by a map click; the caller's number masked on screen
    channel(page, "public")
    click_map(page, town["lon"] + 0.002, town["lat"])
    category(page, "暴露", "暴露垃圾")
    phone = page.locator("input[data-field='reporter_phone']")
    phone.fill("13912345678")
    page.fill("input[data-field='reporter_name']", "王女士")
    assert phone.input_value() == "139****5678"
    public = submit_and_stay(page, unlocated)
    row = case_row(town, public)
    assert row["reporter_phone"] == "13912345678" and abs(row["lon"] - (town["lon"] + 0.002)) < 1e-5

    # ... and one placed by the search box (a POI by its name): the case lies where the search said
    found = page.request.get(f"/api/search?q={town['poi']}&limit=1").json()["items"][0]
    page.fill("input[data-field='search']", town["poi"])
    page.locator(".el-autocomplete-suggestion li:visible", has_text=found["title"]).first.click()
    page.wait_for_function("document.querySelector('[data-testid=place-hint]').textContent.includes('已选位置')")
    category(page, "暴露", "暴露垃圾")
    searched = submit_and_stay(page, public)
    row = case_row(town, searched)
    assert abs(row["lon"] - found["point"][0]) < 1e-6 and abs(row["lat"] - found["point"][1]) < 1e-6
    assert row["address"] == found["title"]   # an empty address is filled with the place chosen

    # a component problem: picked on the map, or typed by its ID; category and place from the component
    channel(page, "component")
    page.click("[data-action=pick-component]")
    point = town["component_point"]
    click_map(page, point["lon"], point["lat"])
    page.wait_for_selector(f"[data-testid=picked-component]:has-text('{point['id']}')")
    page.fill("[data-field='component_id'] input", town["component_id"])
    page.press("[data-field='component_id'] input", "Enter")   # looks it up (does not send the form)
    page.wait_for_selector(f"[data-testid=picked-component]:has-text('{town['component_id']}')")
    comp = submit_and_stay(page, searched)
    row = case_row(town, comp)
    assert row["component_id"] == town["component_id"] and row["category_kind"] == "matter"

    # video patrol: the camera clicked on the map, the snapshot attached
    channel(page, "video")
    camera = town["camera"]
    marker = page.locator(f"[data-other='camera-{camera['code']}']")
    marker.wait_for()
    page.evaluate("""([lon, lat]) => document.querySelector('[data-testid=intake-page] [data-testid=case-map]')
        .__map.jumpTo({center: [lon, lat], zoom: 17})""", [camera["lon"], camera["lat"]])
    marker.click()
    category(page, "bllj", "暴露垃圾")
    page.locator("[data-testid=intake-snapshot] [data-testid=photo-file]").set_input_files(
        files=[{"name": "snap.png", "mimeType": "image/png", "buffer": png_bytes(11)}])
    page.locator("[data-testid=intake-snapshot] .photo-thumb").wait_for()
    video = submit_and_stay(page, comp)
    row = case_row(town, video)
    assert row["camera_code"] == camera["code"] and row["photo_roles"] == ["snapshot"]

    # the existing case suggested while typing (map and list); 这是同一问题 merges the report into it
    channel(page, "public")
    click_map(page, town["lon"] + 0.0001, town["lat"])
    category(page, "bllj", "暴露垃圾")
    page.wait_for_selector(f"[data-testid=duplicates] [data-case='{existing['id']}']", timeout=30_000)
    assert page.locator(f"[data-other='case-{existing['id']}']").count() == 1
    page.fill("[data-testid=intake-form] [data-field='description'] textarea", "又有人反映这里的垃圾")
    page.click(f"[data-testid=duplicates] [data-case='{existing['id']}'] [data-action=same-problem]")
    page.wait_for_selector("[data-testid=merge-target]")
    shot(page, "intake-duplicates")
    merged = submit_and_stay(page, video)
    row = case_row(town, merged)
    assert row["state"] == "merged" and row["duplicate_of"] == existing["id"]
    assert officer.get(f"/api/cases/{existing['id']}").json()["merged_here"] == [row["id"]]

    # the district's pushes: read-only
    channel(page, "district")
    page.wait_for_selector(f"[data-testid=district-pushes] .case-row-{pushed.json()['id']}")
    assert page.locator("[data-testid=intake-submit]").count() == 0

    # the merged report on the existing case's timeline; the unlocated one located on its page's map
    page.goto(f"/cases/{existing['id']}")
    page.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    merged_in = page.locator("[data-testid=case-timeline] [data-event='merged_in']")
    assert merged in merged_in.inner_text() and "又有人反映" in merged_in.inner_text()
    page.goto(f"/cases/{case_row(town, unlocated)['id']}")
    page.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    page.click("[data-testid=case-actions] button[data-action='locate']")
    click_map(page, town["lon"] - 0.001, town["lat"], scope=".action-form")
    page.click("[data-testid=action-submit]")
    page.wait_for_function("document.querySelectorAll('[data-testid=case-timeline] [data-event=locate]').length === 1",
                           timeout=30_000)
    row = case_row(town, unlocated)
    assert not row["needs_location"] and abs(row["lon"] - (town["lon"] - 0.001)) < 1e-5
    assert not page.problems and not page.outside, (page.problems, page.outside)


def test_grid_officer_reports_on_a_phone_by_gps(town, browser_page):
    page = browser_page("grid_officer", viewport=PHONE, base=town["base"], permissions=["geolocation"],
                        geolocation={"longitude": town["lon"] + 0.0005, "latitude": town["lat"]}, has_touch=True,
                        is_mobile=True)
    open_intake(page)
    assert page.locator("[data-testid=intake-form]").get_attribute("data-channel") == "patrol"
    # self-handling is 巡查上报's: the patrol form says so and links there
    assert page.locator("[data-testid=patrol-hint] a").get_attribute("href") == "/patrol"
    page.click("[data-action=gps]")
    page.wait_for_function("document.querySelector('[data-testid=place-hint]').textContent.includes('已选位置')")
    category(page, "dlbj", "道路不洁")
    page.fill("[data-testid=intake-form] [data-field='description'] textarea", "巡查发现道路不洁")
    page.click("[data-testid=intake-submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+$"), timeout=30_000)
    page.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    shot(page, "intake-officer-phone")
    number = re.search(r"案件 (\d+)", page.inner_text(".case-head h2")).group(1)
    row = case_row(town, number)
    assert row["channel"] == "patrol" and row["category_code"] == "06012"
    assert abs(row["lon"] - (town["lon"] + 0.0005)) < 1e-6 and abs(row["lat"] - town["lat"]) < 1e-6
    assert not page.problems and not page.outside, (page.problems, page.outside)
