"""事件查询 in a real browser: filters chosen in the panel (channel, overdue, a date range, a
category found in the tree by its pinyin initials) give the total /api/cases gives for the same
filters; the matches are drawn in their time-limit colours and listed; a case opens its page with
its fields and timeline in Chinese. No console errors, nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import re

import pytest
from browser import idle, open_map, shot

pytestmark = pytest.mark.browser
STATE = "JSON.parse(JSON.stringify(window.__civicgrid.caseQuery.state))"


def choose(page, trigger, text: str) -> None:
    trigger.click()
    page.wait_for_timeout(250)
    page.locator(".el-select-dropdown__item:visible").filter(has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$")).first.click()
    page.wait_for_timeout(250)


def run(page) -> dict:
    page.evaluate("window.__civicgrid.caseQuery.state.total = null")
    page.click("[data-action=run-case-query]")
    page.wait_for_function("!window.__civicgrid.caseQuery.state.busy && window.__civicgrid.caseQuery.state.total !== null")
    return page.evaluate(STATE)


def api_total(page, query: str) -> int:
    r = page.request.get(f"/api/cases?{query}&limit=1")
    assert r.ok, r.text()
    return r.json()["total"]


def test_case_query_filters_match_the_api(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    page.click("#tool-bar [data-tool='case_query']")
    page.wait_for_selector("[data-testid=case-query-panel]")
    page.wait_for_function("window.__civicgrid.caseQuery.state.tree.length > 0")

    choose(page, page.locator("[data-field=channel]"), "12345热线")
    page.keyboard.press("Escape")
    choose(page, page.locator("[data-field=overdue]"), "已超期")
    s = run(page)
    assert s["query"] == "channel=hotline&overdue=true"
    expected = api_total(page, s["query"])
    assert s["total"] == expected > 0 and len(s["rows"]) == min(expected, 1000)
    assert page.get_attribute("[data-testid=case-count]", "data-total") == str(expected)
    assert all(r["channel"] == "hotline" and r["sla_color"] == "red" for r in s["rows"])
    idle(page)
    drawn = page.evaluate("window.__civicgrid.map.queryRenderedFeatures({layers: ['case-query-results-point']})"
                          ".map(f => f.properties.sla_color)")
    assert drawn and set(drawn) == {"red"}
    assert page.locator(".result-table .el-table__row").first.inner_text().count("12345热线") == 1   # names, not codes

    # a date range typed into the picker, and a category found by its pinyin initials (jg: 井盖)
    choose(page, page.locator("[data-field=overdue]"), "全部")
    last = page.request.get("/api/cases?limit=1&order=-reported_at").json()["cases"][0]["reported_at"][:10]
    first = f"{int(last[:4]) - 1}{last[4:]}"
    start = page.locator("[data-testid=case-query-panel] .el-range-input").first
    start.click()
    start.fill(first)
    end = page.locator("[data-testid=case-query-panel] .el-range-input").nth(1)
    end.fill(last)
    end.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_function("window.__civicgrid.caseQuery.state.filters.dates?.[1]")
    page.click("[data-field=category]")
    page.keyboard.type("jg")
    page.wait_for_timeout(400)
    node = page.locator(".el-tree-node:visible .el-tree-node__content:has-text('井盖')").first
    node.locator(".el-checkbox").click()
    page.keyboard.press("Escape")
    s = run(page)
    assert re.fullmatch(rf"from={first}&to=\d{{4}}-\d\d-\d\d&category=\d{{2,5}}&channel=hotline", s["query"]), s["query"]
    assert s["total"] == api_total(page, s["query"])
    category = s["filters"]["categories"][0]
    assert all(r["category_code"].startswith(category) for r in s["rows"])
    shot(page, "web_case_query")
    assert page.problems == [] and page.outside == []


def test_a_case_opens_its_page_in_chinese(browser_page):
    page = browser_page("dispatcher")
    open_map(page)
    page.click("#tool-bar [data-tool='case_query']")
    page.wait_for_selector("[data-testid=case-query-panel]")
    choose(page, page.locator("[data-field=is_closed]"), "已结案")
    s = run(page)
    assert s["total"] == api_total(page, "is_closed=true")
    page.locator(".result-table .el-table__row").first.click()
    page.wait_for_function("window.__civicgrid.caseQuery.state.selected !== null")
    case_id = page.evaluate("window.__civicgrid.caseQuery.state.selected")
    page.click("[data-action=open-case]")
    page.wait_for_url(f"**/cases/{case_id}")
    page.wait_for_selector("[data-testid=case-timeline]")
    case = page.request.get(f"/api/cases/{case_id}").json()
    fields = page.inner_text("[data-testid=case-fields]")
    assert case["case_number"] in fields and case["category_name"] in fields
    assert case["channel"] not in fields and "已结案" in page.inner_text(".case-head")
    timeline = page.inner_text("[data-testid=case-timeline]")
    events = page.request.get(f"/api/cases/{case_id}/timeline").json()
    assert page.locator("[data-testid=case-timeline] .el-timeline-item").count() == len(events)
    assert case["state_name"] in timeline and not re.search(r"\b(dispatch|close|cancel|filed|closed|report)\b", timeline)
    shot(page, "web_case_detail")
    page.goto("/cases/999999999")
    page.wait_for_selector(".case-page .el-alert")
    assert "案件不存在" in page.inner_text(".case-page")
    # the 404 of the missing case is the page's answer, not a console error
    page.problems[:] = [p for p in page.problems if "404" not in p]
    assert page.problems == [] and page.outside == []
