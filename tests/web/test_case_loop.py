"""The case loop in a real browser, by five demo users on the session's live server: a public report
taken by the intake operator on 受理 (/intake) is verified by the grid officer on a phone (核实), filed by the shift
leader (立案), dispatched by the dispatcher to a department he picks instead of the suggested one
(派遣), 催办 by the dispatcher (seen by the department), 延期 applied by the department and approved by
the shift leader (the deadline moves), reported back with a photo (处置反馈), checked and closed by the
grid officer on a phone (核查 → 结案) — each step from the role's inbox, each in the timeline. Two
browsers on one case: one wins, the other sees the conflict message and keeps its input.
Every role sees only its own inbox and actions.
"""
from __future__ import annotations

import re

import pytest
from browser import click_case_map, open_intake, pick_category, shot

from civicgrid.cases.testing import png_bytes
from civicgrid.db import connect

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def loop_place(demo_url):
    """A point in the first officer's responsibility grid (web.grid_officer's), and the first department
    (web.department_handler's) with its name."""
    with connect(demo_url) as conn:
        row = conn.execute("""
            SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
                SELECT ST_PointOnSurface(ug.geom) AS p FROM officer o
                JOIN responsibility_grid rg ON rg.officer_id = o.id
                JOIN responsibility_grid_member m ON m.responsibility_grid_code = rg.code
                JOIN unit_grid ug ON ug.code = m.unit_grid_code
                WHERE o.code = (SELECT code FROM officer ORDER BY code LIMIT 1)
                ORDER BY ug.code LIMIT 1) x""").fetchone()
        dept = conn.execute("SELECT code, name FROM department ORDER BY code LIMIT 1").fetchone()
    return {"lon": row["lon"], "lat": row["lat"], "department": dept["code"], "department_name": dept["name"]}


def open_case(page, case_id: int) -> None:
    page.goto(f"/cases/{case_id}")
    page.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)


def from_inbox(page, box: str, case_number: str, case_id: int) -> None:
    """The case is in the role's box (found by its number) and opens from there."""
    page.goto(f"/inbox?box={box}")
    page.wait_for_function("document.body.dataset.inboxReady === '1'", timeout=60_000)
    page.fill("input[data-testid=inbox-q], [data-testid=inbox-q] input", case_number)
    row = page.locator(f"[data-testid=inbox-list] .case-row-{case_id}, [data-testid=inbox-list] [data-case='{case_id}']")
    row.first.wait_for(timeout=30_000)
    row.first.click()
    page.wait_for_url(f"**/cases/{case_id}")
    page.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)


def choose(page, item, text: str) -> None:
    item.locator(".el-select").click()
    page.locator(".el-select-dropdown__item:visible").filter(has_text=re.compile(f"^\\s*{re.escape(text)}")).first.click()


def events(page) -> list[str]:
    return page.eval_on_selector_all("[data-testid=case-timeline] [data-event]", "els => els.map(e => e.dataset.event)")


def act(page, action: str, comment: str | None = None, select: dict | None = None, photo: int | None = None,
        expect_done: bool = True):
    before = len(events(page))
    page.click(f"[data-testid=case-actions] button[data-action='{action}']")
    form = page.locator(f".action-form[data-action='{action}']")
    form.wait_for()
    for name, text in (select or {}).items():
        choose(page, form.locator(f"[data-field='{name}']"), text)
    if photo is not None:
        form.locator("[data-testid=photo-file]").set_input_files(
            files=[{"name": f"after-{photo}.png", "mimeType": "image/png", "buffer": png_bytes(photo)}])
        form.locator(".photo-thumb").first.wait_for()
    if comment:
        form.locator("[data-field='comment'] textarea").fill(comment)
    form.locator("[data-testid=action-submit]").click()
    if expect_done:
        page.wait_for_function(f"document.querySelectorAll('[data-testid=case-timeline] [data-event]').length > {before}",
                               timeout=30_000)
    return form


def actions_offered(page) -> list[str]:
    return page.eval_on_selector_all("[data-testid=case-actions] button[data-action]", "els => els.map(e => e.dataset.action)")


def test_seven_step_loop_by_five_users(browser_page, loop_place, live_server):
    # 受理 on /intake: a public report taken by phone, placed on the map, the caller's contact kept
    intake = browser_page("intake_operator")
    open_intake(intake)
    intake.click("[data-testid=intake-channels] [data-channel='public']")
    click_case_map(intake, loop_place["lon"], loop_place["lat"], "[data-testid=intake-page]")
    pick_category(intake, "[data-testid=intake-form] [data-field='category_code']", "bllj", "暴露垃圾")
    intake.fill("[data-testid=intake-form] [data-field='description'] textarea", "路边暴露垃圾（浏览器闭环测试）")
    intake.fill("input[data-field='reporter_name']", "张先生")
    intake.fill("input[data-field='reporter_phone']", "13912345678")
    intake.click("[data-testid=intake-submit]")
    intake.wait_for_url(re.compile(r".*/cases/\d+$"), timeout=30_000)
    intake.wait_for_function("document.body.dataset.caseReady === '1'", timeout=60_000)
    cid = int(intake.url.rsplit("/", 1)[1])
    case = intake.request.get(f"/api/cases/{cid}").json()
    number = case["case_number"]
    assert case["state"] == "verifying" and case["channel"] == "public"
    assert number in intake.inner_text(".case-head h2")

    # 核实 by the grid officer on a phone: his box, the verdict from the workflow's own names
    officer = browser_page("grid_officer", viewport=PHONE)
    from_inbox(officer, "grid_officer", number, cid)
    assert actions_offered(officer) == ["verify"]
    act(officer, "verify", comment="现场属实", select={"data.verdict": "属实"})
    shot(officer, "case-loop-officer-phone")

    # 立案 by the shift leader; the intake operator's phone number is masked on screen
    leader = browser_page("shift_leader")
    from_inbox(leader, "shift_leader", number, cid)
    fields = leader.inner_text("[data-testid=case-fields]")
    assert "139****5678" in fields and "13912345678" not in fields
    act(leader, "file")

    # 派遣: the suggested department is preselected; the dispatcher picks the handler's department
    dispatcher = browser_page("dispatcher")
    from_inbox(dispatcher, "dispatcher", number, cid)
    dispatcher.click("[data-testid=case-actions] button[data-action='dispatch']")
    dept_field = dispatcher.locator(".action-form[data-action='dispatch'] [data-field='data.department_code']")
    dept_field.wait_for()
    choose(dispatcher, dept_field, loop_place["department_name"])
    dispatcher.locator(".action-form[data-action='dispatch'] [data-testid=action-submit]").click()
    dispatcher.wait_for_function("[...document.querySelectorAll('[data-testid=case-timeline] [data-event]')]"
                                 ".some(e => e.dataset.event === 'dispatch')", timeout=30_000)
    act(dispatcher, "urge", comment="请尽快处置")
    shot(dispatcher, "case-loop-detail-desktop")

    # the department: 催办 is visible; 延期 applied, then approved by the shift leader moves the deadline
    handler = browser_page("department_handler")
    from_inbox(handler, "department_handler", number, cid)
    assert "催办次数" in handler.inner_text("[data-testid=case-fields]")
    assert "urge" in events(handler)
    assert set(actions_offered(handler)) == {"return", "feedback", "postpone_request"}
    act(handler, "postpone_request", comment="需要协调清运车辆", select={"data.extend": "2 个工作日"})
    before = handler.request.get(f"/api/cases/{cid}").json()["step_deadline_at"]
    from_inbox(leader, "shift_leader", number, cid)
    act(leader, "postpone_approve")
    assert handler.request.get(f"/api/cases/{cid}").json()["step_deadline_at"] > before

    # two browsers on one case: the first 处置反馈 wins, the second is told and keeps its input
    other = browser_page("department_handler")
    open_case(other, cid)
    open_case(handler, cid)
    act(handler, "feedback", comment="已清理完毕", photo=5)
    form = act(other, "feedback", comment="我也处理了", photo=6, expect_done=False)
    other.wait_for_selector("[data-testid=stale]")
    assert "案件已被他人处理，请刷新" in other.inner_text("[data-testid=stale]")
    assert form.locator("[data-field='comment'] textarea").input_value() == "我也处理了"
    other.click("[data-testid=stale] button")
    other.wait_for_selector("text=该操作当前不可办理")

    # 核查 on the phone closes the case; every step is in the timeline, the photo under 处置后照片
    from_inbox(officer, "grid_officer", number, cid)
    assert set(actions_offered(officer)) == {"check_pass", "rework"}
    act(officer, "check_pass", select={"data.verdict": "已处置到位"})
    officer.wait_for_selector("text=已结案")
    assert events(officer) == ["report", "verify", "file", "dispatch", "urge", "postpone_request", "postpone_approve",
                               "feedback", "check_pass"]
    assert officer.locator("[data-testid=case-photos] [data-kind=after]").count() == 1
    assert actions_offered(officer) == []
    timeline = officer.inner_text("[data-testid=case-timeline]")
    assert "待核实 → 信息收集/待受理" in timeline and "已反馈/待核查 → 已结案" in timeline and "（网格员）" in timeline
    for page in (intake, officer, leader, dispatcher, handler, other):
        assert not page.outside, page.outside
        assert not [p for p in page.problems if "409" not in p], page.problems

    # each role sees only its own inbox
    for page, role in ((intake, "intake_operator"), (leader, "shift_leader"), (dispatcher, "dispatcher"),
                       (handler, "department_handler")):
        boxes = page.request.get("/api/inbox").json()["boxes"]
        assert [b["box"] for b in boxes] == [role]
    gis = browser_page("gis_editor")
    assert gis.request.get("/api/inbox").status == 403


def test_public_report_and_tracking_show_no_reporter_data(browser_page, loop_place):
    page = browser_page(None, viewport=PHONE, geolocation={"longitude": loop_place["lon"], "latitude": loop_place["lat"]},
                        permissions=["geolocation"])
    page.goto("/report")
    page.wait_for_selector("[data-testid=report-form]")
    page.click("text=使用我的位置")
    page.wait_for_selector("text=已选位置")
    select = page.locator("[data-field=category]").locator("xpath=ancestor-or-self::*[contains(@class,'el-select')][1]")
    select.click()
    page.keyboard.type("暴露垃圾")
    page.locator(".el-select-dropdown__item:visible").filter(has_text="暴露垃圾").first.click()
    page.fill("[data-field=description] textarea, textarea[data-field=description]", "小区门口垃圾无人清运")
    page.fill("input[placeholder='称呼']", "李女士")
    page.fill("input[placeholder='手机号']", "13800001111")
    page.set_input_files("[data-testid=report-photos]",
                         files=[{"name": "before.png", "mimeType": "image/png", "buffer": png_bytes(9)}])
    shot(page, "public-report-phone")
    page.click("[data-testid=report-submit]")
    number = page.locator("[data-testid=tracking-number]").inner_text(timeout=30_000)
    assert re.fullmatch(r"\d{10,}", number)
    page.click("[data-testid=tracking-link]")
    page.wait_for_function("document.body.dataset.trackReady === '1'")
    status = page.inner_text("[data-testid=track-status]")
    assert number in status and "暴露垃圾" in status and "小区门口垃圾无人清运" in status and "处理中" in status
    assert "李女士" not in status and "13800001111" not in status and "13800001111" not in page.content()
    shot(page, "public-track-phone")
    assert not page.outside and not page.problems, (page.outside, page.problems)
