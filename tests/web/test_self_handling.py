"""The grid officer on a phone (390×844), on the session's live server: 自行处置 — he reports a problem
from his inbox's 上报问题 with the phone's position and the photo before, handles it on the spot with
the photo after, and the case follows the self-handling workflow (已自行处置/待核实) until the shift
leader's 核实 closes it, each step in the timeline with the officer's name; 核实 of a public report
sends the phone's position with the action, shown in the timeline and on the case map."""
from __future__ import annotations

import pytest
from browser import shot
from test_case_loop import act, choose, events, from_inbox

from civicgrid.cases.testing import png_bytes
from civicgrid.db import connect

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def officer_place(demo_url):
    """A point in web.grid_officer's responsibility grid and the officer's name."""
    with connect(demo_url) as conn:
        return conn.execute("""
            SELECT ST_X(p) AS lon, ST_Y(p) AS lat, name FROM (
                SELECT ST_PointOnSurface(ug.geom) AS p, o.name FROM officer o
                JOIN responsibility_grid rg ON rg.officer_id = o.id
                JOIN responsibility_grid_member m ON m.responsibility_grid_code = rg.code
                JOIN unit_grid ug ON ug.code = m.unit_grid_code
                WHERE o.code = (SELECT code FROM officer ORDER BY code LIMIT 1)
                ORDER BY ug.code DESC LIMIT 1) x""").fetchone()


def phone(browser_page, place, dlon=0.0):
    return browser_page("grid_officer", viewport=PHONE, permissions=["geolocation"],
                        geolocation={"longitude": place["lon"] + dlon, "latitude": place["lat"]})


def photo(page, testid: str, seed: int) -> None:
    box = page.locator(f"[data-testid={testid}]")
    box.locator("[data-testid=photo-file]").set_input_files(
        files=[{"name": f"photo-{seed}.png", "mimeType": "image/png", "buffer": png_bytes(seed)}])
    box.locator(".photo-thumb").first.wait_for()


def test_self_handling_on_a_phone(browser_page, officer_place):
    officer = phone(browser_page, officer_place)
    officer.goto("/inbox")
    officer.wait_for_function("document.body.dataset.inboxReady === '1'", timeout=60_000)
    officer.click("[data-testid=inbox-report]")
    officer.wait_for_selector("[data-testid=patrol-form]")
    officer.wait_for_selector("[data-testid=patrol-where]:has-text('手机定位')")
    officer.click("[data-field=category_code] .el-select__wrapper")
    officer.locator("[data-field=category_code] input").fill("暴露垃圾")
    officer.locator(".el-tree-node__content:visible", has_text="暴露垃圾").first.click()
    officer.fill("[data-field=description] textarea", "路口暴露垃圾，已现场清理")
    photo(officer, "patrol-before", 21)
    officer.click("[data-testid=patrol-self]")
    officer.click("[data-testid=patrol-submit]")
    # the after-photo is what self-handling needs: asked for before anything is sent
    officer.wait_for_selector("text=自行处置需拍摄处置后照片")
    photo(officer, "patrol-after", 22)
    shot(officer, "self-handling-report-phone")
    officer.click("[data-testid=patrol-submit]")
    officer.wait_for_selector("[data-testid=patrol-done]", timeout=30_000)
    number = officer.inner_text("[data-testid=patrol-number]")
    assert "已自行处置/待核实" in officer.inner_text(".patrol-page")
    officer.click("[data-testid=patrol-open]")
    officer.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    cid = int(officer.url.rsplit("/", 1)[1])
    case = officer.request.get(f"/api/cases/{cid}").json()
    assert case["workflow"] == "self_handling" and case["self_handled"] and case["state"] == "self_reported"
    assert abs(case["lon"] - officer_place["lon"]) < 1e-6 and case["case_number"] == number
    assert officer.locator("[data-testid=case-photos] [data-kind=before]").count() == 1
    assert officer.locator("[data-testid=case-photos] [data-kind=after]").count() == 1
    assert events(officer) == ["report"]

    # the center's 核实 closes it per the self-handling workflow
    leader = browser_page("shift_leader")
    from_inbox(leader, "shift_leader", number, cid)
    act(leader, "verify", select={"data.verdict": "属实"})
    leader.wait_for_selector("text=已结案")

    officer.reload()
    officer.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    assert events(officer) == ["report", "verify"]
    timeline = officer.inner_text("[data-testid=case-timeline]")
    assert "已自行处置/待核实 → 已结案" in timeline
    assert f"{officer_place['name']}（网格员）" in timeline and "web.grid_officer" not in timeline
    shot(officer, "self-handling-closed-phone")
    for page in (officer, leader):
        assert not page.outside, page.outside
        assert not page.problems, page.problems


def test_verification_sends_the_phones_position(browser_page, officer_place):
    intake = browser_page("intake_operator")
    token = intake.request.get("/api/auth/me").json()["csrf_token"]
    r = intake.request.post("/api/cases", headers={"X-CSRF-Token": token}, data={
        "channel": "public", "category_code": "06010", "lon": officer_place["lon"], "lat": officer_place["lat"],
        "description": "核实定位测试"})
    assert r.status == 201, r.text()
    cid, number = r.json()["id"], r.json()["case_number"]

    officer = phone(browser_page, officer_place, dlon=0.0003)      # about 25 m east of the case
    from_inbox(officer, "grid_officer", number, cid)
    officer.click("[data-testid=case-actions] button[data-action='verify']")
    form = officer.locator(".action-form[data-action='verify']")
    form.locator("[data-testid=action-position][data-status=ok]").wait_for()
    assert "已获取" in form.locator("[data-testid=action-position]").inner_text()
    choose(officer, form.locator("[data-field='data.verdict']"), "属实")
    form.locator("[data-field='comment'] textarea").fill("现场属实")
    form.locator("[data-testid=action-submit]").click()
    officer.wait_for_selector("[data-testid=event-position]", timeout=30_000)
    position = officer.locator("[data-testid=event-position]")
    assert "距案件位置" in position.inner_text() and position.count() == 1
    assert officer.locator("[data-testid=case-map] .maplibregl-marker").count() == 2   # the case and where he stood
    shot(officer, "verify-position-phone")
    verify = officer.request.get(f"/api/cases/{cid}/timeline").json()[-1]
    assert verify["action"] == "verify" and abs(verify["position"]["lon"] - officer_place["lon"] - 0.0003) < 1e-6
    assert 15 < verify["position"]["distance_m"] < 40
    assert not officer.problems, officer.problems
