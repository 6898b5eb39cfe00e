"""Officers in the web app: the live list (网格员) with search, track playback (轨迹回放) played to the
end with its stops, and a geofence alert (电子围栏告警) that appears in the open page when positions
outside the officer's grid are written (no reload), then acknowledged.

The server runs on a private copy of the demo town with one shift around the time the tests run
(the demo's 08:00–18:00 shifts would make the alert test depend on the hour); the browser fixtures of
conftest.py use this module's `live_server`.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from browser import idle, open_map, shot
from databases import copy_demo, drop_database, serving

from civicgrid.db import connect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def town_url(demo_url, web_users, pg_admin_url):
    url = copy_demo(pg_admin_url)      # after web_users: the copy has the web.<role> users
    with connect(url) as conn:
        conn.execute("UPDATE duty_shift SET active = false")
        conn.execute("INSERT INTO duty_shift (code, name, starts, ends) SELECT 'test', '测试班次', "
                     "(now() AT TIME ZONE 'Asia/Shanghai' - interval '3 hours')::time, "
                     "(now() AT TIME ZONE 'Asia/Shanghai' + interval '3 hours')::time")
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def live_server(town_url):
    with serving(town_url) as base:
        yield base


def drawn(page, layers: list[str], timeout: float = 30_000) -> None:
    """Wait until the layers show something (a GeoJSON source is parsed in a worker: the map may
    still be idle from before the data was set)."""
    page.wait_for_function("layers => window.__civicgrid.map.queryRenderedFeatures({layers}).length > 0",
                           arg=layers, timeout=timeout)


def open_tool(page, tool: str) -> None:
    page.click(f"#tool-bar [data-tool='{tool}']")
    page.wait_for_selector(f".tool-panel[data-panel='{tool}']")


def test_officers_list_search_and_fly(browser_page, town_url):
    with connect(town_url) as conn:
        total = conn.execute("SELECT count(*) AS n FROM officer WHERE active").fetchone()["n"]
        first = conn.execute("SELECT id, name FROM officer ORDER BY code LIMIT 1").fetchone()
    page = browser_page("shift_leader")
    open_map(page)
    open_tool(page, "officers")
    page.wait_for_function(f"document.querySelectorAll('.officer-row').length === {total}")
    row = page.locator(f".officer-row[data-officer='{first['id']}']")
    assert first["name"] in row.inner_text() and ("前" in row.inner_text() or "刚刚" in row.inner_text())
    assert "离线" in page.inner_text(".officers-filter")       # counts per status in the filter
    page.fill(".officers-search input", first["name"])
    page.wait_for_function(f"document.querySelectorAll('.officer-row').length < {total}")
    assert all(first["name"] in t for t in page.locator(".officer-row .officer-name").all_inner_texts())
    row.click()
    page.wait_for_function("window.__civicgrid.map.getZoom() >= 16.9 && !window.__civicgrid.map.isMoving()")
    drawn(page, ["officers-point"])
    shot(page, "officers_list")
    assert page.problems == [] and page.outside == []


def test_playback_runs_to_the_end_and_shows_the_stops(browser_page, town_url):
    with connect(town_url) as conn:
        officer = conn.execute("SELECT id, name, code FROM officer ORDER BY code LIMIT 1").fetchone()
    page = browser_page("leader")
    open_map(page)
    open_tool(page, "playback")
    page.click(".pb-officer")
    page.click(f".el-select-dropdown__item:has-text('{officer['name']}（{officer['code']}）')")
    page.click(".pb-load")
    page.wait_for_selector(".playback-panel[data-state='ready']", timeout=60_000)
    stops = page.locator(".pb-stop").count()
    assert stops > 0 and f"{stops} 次" in page.inner_text(".pb-stop-count")
    assert "千米" in page.inner_text(".pb-distance") or "米" in page.inner_text(".pb-distance")
    for layers in (["pb-track-line"], ["pb-stops-circle"], ["pb-track-arrows"]):
        drawn(page, layers)
    # play (300×: the day takes half a minute), pause on the way, then on to the end at 3600×
    start = page.evaluate("window.__civicgrid.playback.t.value")
    page.click(".pb-play")
    page.wait_for_function(f"window.__civicgrid.playback.t.value > {start} + 60000")
    page.click(".pb-pause")
    paused = page.evaluate("window.__civicgrid.playback.t.value")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__civicgrid.playback.t.value") == paused
    assert page.locator(".playback-panel[data-state='paused']").count() == 1
    page.click(".pb-speed")
    page.click(".el-select-dropdown__item:has-text('3600 倍速')")
    page.click(".pb-play")
    page.wait_for_selector(".playback-panel[data-state='ended']", timeout=60_000)
    assert "回放结束" in page.inner_text(".pb-controls")
    shot(page, "officers_playback")
    # a stop in the list jumps the clock there
    page.locator(".pb-stop").first.click()
    assert page.locator(".playback-panel[data-state='paused']").count() == 1
    assert page.problems == [] and page.outside == []


def test_geofence_alert_appears_without_reload_and_is_acknowledged(browser_page, town_url):
    with connect(town_url) as conn:
        officer = conn.execute("SELECT o.id, o.name FROM officer o JOIN responsibility_grid rg ON rg.officer_id = o.id "
                               "ORDER BY o.code DESC LIMIT 1").fetchone()
        out = conn.execute("""
            SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (
                SELECT ST_Transform(ST_SetSRID(ST_MakePoint(ST_XMax(ST_Transform(ST_Union(geom), 4548)) + 150,
                       ST_Y(ST_Centroid(ST_Transform(ST_Union(geom), 4548)))), 4548), 4490) AS p
                FROM responsibility_grid WHERE officer_id = %s) s""", [officer["id"]]).fetchone()
    page = browser_page("dispatcher")
    open_map(page)
    page.wait_for_function("window.__civicgrid.alerts && window.__civicgrid.alerts.stream === 'open'", timeout=30_000)
    assert page.locator(".geofence-notice").count() == 0
    # the field app uploads 14 minutes of fixes 150 m outside the grid while the page is open
    with connect(town_url) as conn:
        now = conn.execute("SELECT now() AS t").fetchone()["t"]
        times = [now - timedelta(minutes=14) + timedelta(seconds=30 * k) for k in range(29)]
        conn.execute("INSERT INTO officer_position (officer_id, recorded_at, geom, accuracy_m) "
                     "SELECT %s, t, ST_SetSRID(ST_MakePoint(%s, %s), 4490), 6 FROM unnest(%s::timestamptz[]) t",
                     [officer["id"], out["x"], out["y"], times])
    notice = page.locator(".geofence-notice", has_text="电子围栏告警")
    notice.wait_for(timeout=30_000)
    assert officer["name"] in notice.inner_text() and "已离开责任网格" in notice.inner_text()
    page.wait_for_function("document.querySelector('.geofence-bell .el-badge__content')?.textContent.trim() === '1'")
    shot(page, "officers_geofence_notice")
    # the list: open, then acknowledged with a note
    page.click(".geofence-bell button")
    row = page.locator(".gf-row", has_text=officer["name"])
    row.wait_for()
    assert "越界中" in row.inner_text()
    row.locator(".gf-ack").click()
    page.fill(".el-message-box input", "已电话联系，正在返回")
    page.click(".el-message-box__btns button.el-button--primary")
    page.locator(".gf-row", has_text="web.dispatcher").wait_for()
    page.wait_for_function("!document.querySelector('.geofence-bell .el-badge__content') || "
                           "document.querySelector('.geofence-bell .el-badge__content').offsetParent === null")
    with connect(town_url) as conn:
        row = conn.execute("SELECT acknowledged_by, ack_comment FROM geofence_alert WHERE officer_id = %s "
                           "AND raised_at IS NOT NULL", [officer["id"]]).fetchone()
    assert row["acknowledged_by"] == "web.dispatcher" and row["ack_comment"] == "已电话联系，正在返回"
    # the officer's marker carries the red halo of an open alert
    idle(page)
    page.wait_for_function("window.__civicgrid.map.querySourceFeatures('officer-latest')"
                           ".some(f => f.properties.alert === true || f.properties.alert === 'true')")
    assert page.problems == [] and page.outside == []
