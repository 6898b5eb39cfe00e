"""运维考核 in the web app, one flow on a private copy of the demo town (the page writes results):
the evaluator computes October 2026 at 1920×1080, confirms a proposed event on 扣分事项 (the score
drops by its points), dismisses the rest at once, signs the month off (then 复核 is offered and 计算 is not), sees the month in
历史与支付 with its chart and the payment stages; the vendor's staff on a phone (390×844) gets the
record forms, signs in and submits today's checklist, and is offered no scoring.
"""
from __future__ import annotations

import pytest
from browser import shot
from databases import copy_demo, drop_database, serving

from civicgrid.db import connect

pytestmark = pytest.mark.browser
MONTH = "2026-10"


@pytest.fixture(scope="module")
def town_url(demo_url, web_users, pg_admin_url):
    url = copy_demo(pg_admin_url)      # after web_users: the copy has the web.<role> users
    with connect(url) as conn:
        conn.execute("INSERT INTO ops_staff (name, title, is_lead, user_id) VALUES ('王工', '现场负责人', true, NULL), "
                     "('李工', '运维工程师', false, (SELECT id FROM app_user WHERE username = 'web.ops_staff'))")
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def live_server(town_url):
    with serving(town_url) as base:
        yield base


def box_submit(page, text: str | None = None) -> None:
    """Answer the open ElMessageBox (a prompt when `text` is given)."""
    page.wait_for_selector(".el-message-box", state="visible")
    if text is not None:
        page.fill(".el-message-box input", text)
    page.click(".el-message-box__btns .el-button--primary")
    page.wait_for_selector(".el-message-box", state="hidden")


def total(page) -> str:
    return page.inner_text("[data-testid=assess-total]").strip()


def test_evaluator_and_vendor_flow(browser_page, town_url):
    page = browser_page("evaluator", viewport={"width": 1920, "height": 1080})
    page.goto(f"/assessment?month={MONTH}")
    page.wait_for_selector("[data-testid=assess-empty]")
    page.click("[data-testid=assess-compute]")
    page.wait_for_function("document.querySelector('[data-testid=assess-total]')?.textContent.trim() === '100'")
    assert page.inner_text("[data-testid=assess-grade]").strip() == "优秀"
    assert page.locator("[data-testid=assess-items] tbody tr").count() == 11

    # 扣分事项: the system's proposals; confirm the first (a day without an inspection record: −1)
    page.click(".assess-tabs .el-tabs__item:has-text('扣分事项')")
    page.wait_for_selector("[data-testid=assess-events] tbody tr")
    first = page.locator("[data-testid=assess-events] tbody tr:has-text('缺少当日巡检记录')").first
    assert "待审核" in first.inner_text()
    first.locator("[data-testid=assess-confirm]").click()
    box_submit(page, "经核实，当日无巡检记录")
    page.wait_for_selector("[data-testid=assess-events] tbody tr:has-text('已确认')")
    shot(page, "assessment_events")
    page.click("[data-testid=assess-compute]")
    page.click(".assess-tabs .el-tabs__item:has-text('月度概览')")
    page.wait_for_function("document.querySelector('[data-testid=assess-total]')?.textContent.trim() === '99'")

    # the rest dismissed at once: only the open ones listed, all selected, one reason
    page.click(".assess-tabs .el-tabs__item:has-text('扣分事项')")
    page.click(".assess-filter .el-select")
    page.click(".el-select-dropdown__item:has-text('待审核')")
    page.wait_for_function("!document.querySelector('[data-testid=assess-events] tbody')?.textContent.includes('已确认')")
    page.click("[data-testid=assess-events] thead .el-checkbox")
    page.click("[data-testid=assess-dismiss-many]")
    box_submit(page, "已核实：当月记录为纸质补录")
    page.wait_for_function("document.querySelector('[data-testid=assess-sign]')?.textContent.trim() === '签字确认'",
                           timeout=60_000)
    with connect(town_url) as conn:
        left = conn.execute("SELECT count(*) FILTER (WHERE status = 'proposed') AS open, "
                            "count(*) FILTER (WHERE status = 'dismissed' AND decided_by = 'web.evaluator') AS dismissed "
                            "FROM assessment_event WHERE month = '2026-10-01'").fetchone()
    assert left["open"] == 0 and left["dismissed"] > 30
    page.click(".assess-tabs .el-tabs__item:has-text('月度概览')")
    page.click("[data-testid=assess-sign]")
    box_submit(page)
    page.wait_for_selector("[data-testid=assess-reassess]:not([disabled])")
    assert page.locator("[data-testid=assess-compute]").is_disabled()
    assert "已签字确认" in page.inner_text("[data-testid=assessment-page]")
    assert page.inner_text("[data-testid=assess-consequence]").strip() == "按时支付"
    shot(page, "assessment_overview")

    # 历史与支付: the month in the table and the chart, the contract's stages
    page.click(".assess-tabs .el-tabs__item:has-text('历史与支付')")
    page.wait_for_selector("[data-testid=assess-chart] canvas")
    assert MONTH in page.inner_text("[data-testid=assess-history]")
    pay = page.inner_text("[data-testid=assess-payments]")
    assert "1,335,995.20" in pay and "667,997.60" in pay and "33,399.88" in pay
    shot(page, "assessment_history")
    assert page.problems == [] and page.outside == []

    # the vendor on a phone: records only
    phone = browser_page("ops_staff", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto("/assessment")
    phone.wait_for_selector("[data-testid=assess-records]")
    assert phone.locator("[data-testid=assess-compute]").count() == 0
    phone.click("[data-testid=assess-sign-in]")
    phone.wait_for_selector(".el-message--success:has-text('已签到')")
    phone.click("[data-testid=assess-submit-checks]")
    phone.wait_for_selector(".el-message--success:has-text('巡检记录已提交')")
    width = phone.evaluate("document.querySelector('[data-testid=assess-records]').scrollWidth")
    assert width <= 390, width                                   # no sideways scrolling on the phone
    shot(phone, "assessment_phone")
    with connect(town_url) as conn:
        signed = conn.execute("SELECT count(*) AS n FROM ops_attendance a JOIN ops_staff s ON s.id = a.staff_id "
                              "WHERE s.name = '李工' AND a.day = (now() AT TIME ZONE 'Asia/Shanghai')::date").fetchone()["n"]
        ticked = conn.execute("SELECT count(*) AS n FROM ops_inspection WHERE source = 'manual' AND recorded_by = 'web.ops_staff' "
                              "AND day = (now() AT TIME ZONE 'Asia/Shanghai')::date").fetchone()["n"]
    assert signed == 1 and ticked == 7
    assert phone.problems == [] and phone.outside == []
