"""流程管理 in a real browser, on a private town (activating a version changes what every new case
gets, so not on the session's shared one): an admin opens the standard workflow, sees it drawn, adds
a step (a state and two transitions) in the form, gets a validation error on the very field and on
the YAML line, fixes it, saves a new version and activates it; then a new case follows the new step
while a case started before keeps its version. The rules page previews the selection."""
from __future__ import annotations

import re

import pytest
from browser import WEB_PASSWORD, api_as, shot
from databases import copy_demo, drop_database, serving

from civicgrid.db import connect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def town(web_users, pg_admin_url):
    """A copy of the demo town (with the web users) served by its own server."""
    url = copy_demo(pg_admin_url)
    try:
        with serving(url) as base:
            yield url, base
    finally:
        drop_database(pg_admin_url, url)


def pick(page, item_selector, option):
    """Open an Element Plus select inside `item_selector` and click the option named `option` (or
    whose name contains `option.part`)."""
    # a dropdown closed just before still matches `:visible` while it fades out: wait it gone, and
    # take the option from a dropdown that is not leaving
    page.wait_for_selector(".el-zoom-in-top-leave-active", state="detached")
    page.locator(f"{item_selector} .el-select__wrapper").first.click()
    text = re.compile(re.escape(option[1:])) if option.startswith("~") else re.compile(f"^{re.escape(option)}$")
    page.locator(".el-popper:not(.el-zoom-in-top-leave-active) .el-select-dropdown__item:visible",
                 has_text=text).first.click()


def field(scope, name):
    return scope.locator(f":is(input[data-field='{name}'], [data-field='{name}'] input)").first


def test_designer_adds_a_step_that_new_cases_follow(town, chromium):
    url, base = town
    with connect(url) as conn:
        lon, lat = conn.execute("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p "
                                "FROM unit_grid ORDER BY code LIMIT 1) g").fetchone().values()
    officer, operator = api_as(base, "grid_officer"), api_as(base, "intake_operator")
    labels = officer.get("/api/labels").json()
    report = {"channel": "patrol", "category_code": "06010", "lon": lon, "lat": lat, "description": "流程设计测试"}
    old = officer.post("/api/cases", json=report)
    assert old.status_code == 201, old.text
    old = old.json()
    assert old["workflow"] == "standard"

    context = chromium.new_context(base_url=base, locale="zh-CN", timezone_id="Asia/Shanghai",
                                   viewport={"width": 1920, "height": 1080})
    problems = []
    try:
        assert context.request.post("/api/auth/login", data={"username": "web.admin", "password": WEB_PASSWORD}).ok
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))

        # the list: versions with the active one marked, the rules that pick each workflow
        page.goto("/workflows")
        page.wait_for_selector("[data-testid='open-standard']")
        assert "v1 启用中" in page.locator("[data-testid='workflow-list']").inner_text()
        assert labels["channels"]["hotline"] in page.locator("[data-testid='workflow-list']").inner_text()
        page.click("[data-testid='open-standard']")

        # the diagram: every state, closed ones drawn apart, transitions labelled with name and roles
        page.wait_for_selector("[data-testid='wf-diagram'] svg .wf-node[data-state='closed']")
        assert page.locator(".wf-node.closed").count() == 3 and page.locator(".wf-node").count() == 9
        dispatch = page.locator(".wf-edge[data-from='filed'][data-to='dispatched']").first.text_content()
        assert "派遣" in dispatch and labels["roles"]["dispatcher"] in dispatch

        # a new step 初筛 between 上报 and 立案: one state, two transitions
        n = page.locator(".el-collapse-item").count()
        page.click("[data-testid='add-state']")
        code = field(page.locator("[data-state='step1']"), "code")
        code.fill("screening")
        code.press("Enter")
        field(page.locator("[data-state='screening']"), "name").fill("初筛")
        for i, (action, name, source, target, role) in enumerate(
                [("screen", "初筛", "reported", "screening", "intake_operator"),
                 ("screen_done", "初筛完成", "screening", "filed", None)]):
            page.click("[data-testid='add-transition']")
            item = f"#wf-transition-{n + i}"
            page.wait_for_selector(f"{item} [data-path='transitions[{n + i}].action']")
            field(page.locator(item), "action").fill(action)
            field(page.locator(item), "name").fill(name)
            pick(page, f"{item} [data-path='transitions[{n + i}].from']", f"~（{source}）")
            page.keyboard.press("Escape")
            pick(page, f"{item} [data-path='transitions[{n + i}].to']", f"~（{target}）")
            if role:
                pick(page, f"{item} [data-path='transitions[{n + i}].roles']", labels["roles"][role])
                page.keyboard.press("Escape")
        page.wait_for_selector(".wf-edge[data-from='reported'][data-to='screening']")

        # no role for 初筛完成: the server's error shows on that field, on the arrow, and on the YAML line
        page.click("[data-testid='validate']")
        bad = f"transitions[{n + 1}].roles"
        page.wait_for_selector(f".wfd-error[data-path='{bad}']")
        assert page.locator(f"[data-path='{bad}'].is-error").count() == 1
        assert "non-empty" in page.locator(f"[data-path='{bad}'] .el-form-item__error").inner_text()
        assert page.locator(f".wf-edge.bad[data-transition='{n + 1}']").count() == 1
        shot(page, "web_workflow_error")
        page.click(".wfd-tabs .el-tabs__item:has-text('YAML')")
        line = page.locator(".yaml-back .bad").first
        assert line.inner_text().strip().startswith("roles:")
        assert "screen_done" in page.locator("[data-testid='yaml-text']").input_value()
        page.click(".wfd-tabs .el-tabs__item:has-text('表单')")

        pick(page, f"#wf-transition-{n + 1} [data-path='{bad}']", labels["roles"]["shift_leader"])
        page.keyboard.press("Escape")
        page.click("[data-testid='validate']")
        page.wait_for_selector("[data-testid='valid']")
        page.click("[data-testid='save']")
        page.wait_for_url(re.compile(r"/workflows/standard\?version=\d+$"))
        version = int(page.url.rsplit("=", 1)[1])
        assert version == old["workflow_version"] + 1
        page.click("[data-testid='activate']")
        page.click(".el-message-box__btns .el-button--primary")
        page.wait_for_selector("[data-testid='active-tag']")
        page.wait_for_selector(".wf-node[data-state='screening']")
        shot(page, "web_workflow_designer")

        # the preview answers with the intake's own selection: the new version now
        page.goto("/workflows")
        page.wait_for_selector("[data-testid='preview-form']")
        pick(page, "[data-testid='preview-form'] .el-form-item:first-child", labels["channels"]["patrol"])
        page.click("[data-testid='preview-form'] [data-path='category'] .el-select__wrapper")
        page.locator("[data-testid='preview-form'] [data-path='category'] input").fill("暴露垃圾")
        page.locator(".el-tree-node__content:visible", has_text="暴露垃圾").first.click()
        page.click("[data-testid='preview-form'] button[type='submit']")
        answer = page.locator("[data-testid='preview-answer']")
        answer.wait_for()
        assert f"v{version}" in answer.inner_text() and "信息收集" in answer.inner_text()

        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto("/workflows/standard")
        phone.wait_for_selector(".wf-node[data-state='screening']")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "web_workflow_phone")
        assert not problems, problems
    finally:
        context.close()

    # a new case follows the new step; the older one keeps its version and never sees it
    new = officer.post("/api/cases", json=report).json()
    assert (new["workflow"], new["workflow_version"]) == ("standard", version)
    detail = operator.get(f"/api/cases/{new['id']}").json()
    assert "screen" in {a["action"] for a in detail["actions"]}
    moved = operator.post(f"/api/cases/{new['id']}/actions/screen", json={"version": detail["version"]})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["state"], moved.json()["state_name"]) == ("screening", "初筛")
    before = operator.get(f"/api/cases/{old['id']}").json()
    assert before["workflow_version"] == old["workflow_version"] and "screen" not in {a["action"] for a in before["actions"]}
    refused = operator.post(f"/api/cases/{old['id']}/actions/screen", json={"version": before["version"]})
    assert refused.status_code == 400 and refused.json()["field"] == "action"
