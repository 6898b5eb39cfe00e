"""综合评价 page in a real browser: the evaluator makes a month's evaluation from the page; the
table ranks with grade colours, the bar chart and the choropleth draw, a row opens its history, a
number opens the cases behind it, and both export links download files with the table's numbers.
An admin changes the method's weights (validated); a leader reads the same page on a phone, without
the evaluator's buttons."""
from __future__ import annotations

import io

import pytest
from browser import shot
from openpyxl import load_workbook

pytestmark = pytest.mark.browser

ROWS = "[data-test=results] .el-table__body-wrapper .el-table__row"


def test_evaluation_page(browser_page):
    page = browser_page("evaluator", viewport={"width": 1920, "height": 1080})
    page.goto("/evaluation")
    page.wait_for_selector("[data-test=evaluation-page]")
    page.click("[data-test=new-period]")
    page.fill("[data-test=form-code] input", "2026-13")
    page.click("[data-test=form-submit]")
    assert "2026-05" in page.locator("[data-test=form-error]").inner_text(timeout=20_000)   # the server names the field
    page.fill("[data-test=form-code] input", "2026-10")
    page.click("[data-test=form-submit]")
    page.wait_for_function("() => document.querySelector('[data-test=meta]')?.innerText.startsWith('2026-10-01')", timeout=60_000)
    assert "2026年10月" in page.locator("[data-test=period]").inner_text()
    page.wait_for_selector(ROWS)

    # community tab (the default): ranked rows, grade colours, the formula, bar chart, choropleth
    first = page.locator(ROWS).first
    assert first.locator("td").first.inner_text().startswith("1")
    assert page.locator("[data-test=grade]").first.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert "按期结案率×40%" in page.locator("[data-test=formula]").inner_text()
    page.wait_for_selector("[data-test=bar-chart] canvas")
    page.wait_for_function("() => window.__civicgrid?.evaluationMap?.loaded()"
                           " && window.__civicgrid.evaluationMap.querySourceFeatures('areas').length > 0", timeout=30_000)
    first.click()
    page.wait_for_selector("[data-test=history-chart] canvas")
    shot(page, "evaluation-desktop")

    # a number opens the cases behind it
    link = page.locator("[data-test=count-filed]").first
    n = int(link.inner_text())
    link.click()
    page.wait_for_selector("[data-test=drill-cases] .el-table__row")
    assert page.locator("[data-test=drill-cases] .el-table__body-wrapper .el-table__row").count() == n
    page.keyboard.press("Escape")

    # exports: the workbook's first community row is the table's first row
    name = first.locator("td").nth(1).inner_text().strip()
    score = float(first.locator("td").nth(-4).inner_text())
    for fmt, magic in (("xlsx", b"PK"), ("pdf", b"%PDF")):
        href = page.locator(f"[data-test=export-{fmt}]").get_attribute("href")
        r = page.request.get(href)
        assert r.ok and r.body().startswith(magic), href
        if fmt == "xlsx":
            ws = load_workbook(io.BytesIO(r.body()))["社区_村"]   # "/" is not allowed in a sheet name
            header = [c.value for c in ws[3]]
            top = [c.value for c in ws[4]]
            assert top[header.index("名称")] == name and top[header.index("综合指标值")] == score

    # the 派遣员 tab: the command-center roles are evaluated too
    page.click("[data-test=kinds] .el-tabs__item:has-text('派遣员')")
    page.wait_for_function("() => document.querySelector('[data-test=formula]')?.innerText.includes('按时派遣率')")
    assert page.locator(ROWS).count() >= 1

    # an admin changes the method: a wrong sum is refused naming the section, the right one saved
    admin = browser_page("admin", viewport={"width": 1920, "height": 1080})
    admin.goto("/evaluation")
    admin.click("[data-test=method]")
    box = admin.locator("[data-test=weight-dispatcher-dispatched_score] input")
    box.fill("0.5")
    box.press("Tab")
    admin.click("[data-test=method-save]")
    assert "config.dispatcher" in admin.locator("[data-test=method-error]").inner_text(timeout=20_000)
    box.fill("0.2")
    box.press("Tab")
    admin.click("[data-test=method-save]")
    admin.wait_for_selector("[data-test=method-saved]")

    # a leader reads on a phone: the table and charts, no compute or publish buttons
    phone = browser_page("leader", viewport={"width": 390, "height": 844})
    phone.goto("/evaluation")
    phone.wait_for_selector(ROWS, timeout=60_000)
    assert phone.locator("[data-test=new-period]").count() == 0 and phone.locator("[data-test=publish]").count() == 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "evaluation-phone")
