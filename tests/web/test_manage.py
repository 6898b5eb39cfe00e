"""Browser tests of the manage pages: 督办中心 (催办/督办 from the overdue list land on the case's
timeline and in the department's queue; the department board's numbers list their cases), 领导驾驶舱
(every number equals the API's and drills down to that many cases) and the admin pages (a user and a
key limited to one layer created and revoked in the page: the key reads that layer only, then gets
401; the disabled user cannot log in until 启用 on a phone, where the users are cards; a non-admin sees
no 管理 menu and gets 403)."""
from __future__ import annotations

import secrets

import httpx
import pytest
from browser import shot

from civicgrid.security.testing import Credentials

PHONE = {"width": 390, "height": 844}


def field(testid: str) -> str:
    """An Element Plus input by its test id (the attribute lands on the <input> or on its wrapper)."""
    return f"input[data-testid={testid}], [data-testid={testid}] input"

WIDE = {"width": 1920, "height": 1080}


@pytest.fixture(scope="module")
def creds(live_server, demo_url):
    return Credentials(demo_url)


@pytest.fixture(scope="module")
def overdue_case(live_server, demo_url, creds):
    """A case of this test's own, dispatched and then made the longest overdue of the town."""
    from civicgrid.db import connect

    def post(path, body, role):
        r = httpx.post(live_server + path, json=body, headers=creds.headers(role), timeout=30)
        assert r.status_code in (200, 201), r.text
        return r.json()

    with connect(demo_url) as conn:
        where = conn.execute("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases WHERE channel = 'patrol' "
                             "ORDER BY id LIMIT 1").fetchone()
        dept = conn.execute("SELECT code FROM department ORDER BY code LIMIT 1").fetchone()["code"]
    case = post("/api/cases", {"channel": "patrol", "category_code": "06010", "lon": where["lon"], "lat": where["lat"],
                               "description": "督办中心测试"}, "grid_officer")
    case = post(f"/api/cases/{case['id']}/actions/file", {"version": case["version"]}, "shift_leader")
    case = post(f"/api/cases/{case['id']}/actions/dispatch", {"version": case["version"], "data": {"department_code": dept}},
                "dispatcher")
    assert case["state"] == "dispatched" and case["department_code"] == dept
    with connect(demo_url) as conn:
        # the step's limit long past: first in the overdue list (ordered by the step's deadline)
        conn.execute("UPDATE cases SET step_deadline_at = '2020-01-01T00:00+08', step_warn_at = '2019-12-31T00:00+08' "
                     "WHERE id = %s", [case["id"]])
    return httpx.get(f"{live_server}/api/cases/{case['id']}", headers=creds.headers("leader")).json()


def test_urge_and_supervise_from_the_overdue_list(browser_page, overdue_case, live_server, creds):
    cid = overdue_case["id"]
    page = browser_page("leader", viewport=WIDE)
    page.goto("/supervision")
    page.wait_for_selector(f"[data-act='urge-{cid}']", timeout=60_000)
    page.click(f"[data-act='urge-{cid}']")
    page.fill(".supervise-prompt textarea", "请加快处置")
    page.click(".supervise-prompt .el-button--primary")
    page.wait_for_selector(".el-message--success", timeout=30_000)
    assert page.inner_text(f"[data-counts='{cid}']").replace(" ", "") == "1/0"
    # 督办 requires a comment (the workflow says so): refused empty, then sent
    page.click(f"[data-act='supervise-{cid}']")
    page.click(".supervise-prompt .el-button--primary")
    page.wait_for_selector(".supervise-prompt .el-message-box__errormsg:has-text('请填写意见')")
    page.fill(".supervise-prompt textarea", "限今日办结")
    page.click(".supervise-prompt .el-button--primary")
    page.wait_for_function(f"document.querySelector(\"[data-counts='{cid}']\").innerText.replace(/\\s/g, '') === '1/1'")
    shot(page, "supervision-overdue")

    # who and when, on the case's timeline (the case detail page) and for the department
    page.goto(f"/cases/{cid}")
    timeline = page.wait_for_selector("[data-testid=case-timeline]", timeout=60_000).inner_text()
    assert "请加快处置" in timeline and "限今日办结" in timeline and "web.leader" in timeline
    events = httpx.get(f"{live_server}/api/cases/{cid}/timeline", headers=creds.headers("leader")).json()
    assert [(e["action"], e["actor"]) for e in events[-2:]] == [("urge", "web.leader"), ("supervise", "web.leader")]
    dept = overdue_case["department_code"]
    queue = httpx.get(f"{live_server}/api/departments/{dept}/queue", params={"limit": 1000},
                      headers=creds.headers("department_handler", department=dept)).json()["cases"]
    mine = [c for c in queue if c["id"] == cid]
    assert mine and mine[0]["urge_count"] == 1 and mine[0]["supervise_count"] == 1

    # the department board: a number opens exactly its cases
    page.goto("/supervision")
    page.click("text=部门工作量")
    cell = page.wait_for_selector("[data-board$=':overdue']", timeout=60_000)
    n = int(cell.get_attribute("data-n"))
    cell.click()
    page.wait_for_selector(f"[data-testid=drill-total][data-total='{n}']", timeout=30_000)
    assert not page.problems, page.problems

    phone = browser_page("dispatcher", viewport=PHONE)
    phone.goto("/supervision")
    phone.wait_for_selector(f"[data-act='urge-{cid}']", timeout=60_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(phone, "supervision-phone")


def test_dashboard_numbers_match_the_api_and_drill_down(browser_page, live_server, creds, demo_url):
    from civicgrid.db import connect

    with connect(demo_url) as conn:
        day = conn.execute("SELECT max(reported_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM cases").fetchone()["d"]
    page = browser_page("leader", viewport=WIDE)
    page.goto(f"/dashboard?date={day}")
    page.wait_for_function("document.body.dataset.dashboard === 'ready'", timeout=60_000)
    api = httpx.get(f"{live_server}/api/dashboard", params={"date": str(day), "days": 30, "top": 10},
                    headers=creds.headers("leader")).json()
    shown = page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-kpi]')]"
                          ".map(e => [e.dataset.kpi, Number(e.dataset.n)]))")
    expected = {t["key"]: t["n"] for t in api["today"]} | {"open": api["open"]["n"], "overdue": api["overdue"]["n"],
                                                           "on_time": api["on_time"]["on_time"]}
    assert shown == expected and expected["intake"] > 0
    page.click("[data-kpi=intake]")
    page.wait_for_selector(f"[data-testid=drill-total][data-total='{expected['intake']}']", timeout=30_000)
    first = page.inner_text(".case-drill .drill-link >> nth=0")
    assert first.startswith("1101")
    page.keyboard.press("Escape")
    page.wait_for_selector(".case-drill", state="hidden")
    # the top category's bar (drawn on top of a reversed axis) opens its cases
    top = api["by_category"][0]
    point = page.evaluate("""() => {
        const chart = window.__civicgrid.dashboard.charts.category;
        const rect = chart.getDom().getBoundingClientRect();
        const n = chart.getOption().yAxis[0].data.length;
        const [x, y] = chart.convertToPixel({seriesIndex: 0}, [0, n - 1]);
        return [rect.left + x + 10, rect.top + y];
    }""")
    page.mouse.click(*point)
    page.wait_for_selector(f"[data-testid=drill-total][data-total='{top['n']}']", timeout=30_000)
    page.wait_for_function("window.__civicgrid.dashboard.mapCases > 0", timeout=60_000)
    shot(page, "dashboard")
    assert not page.problems, page.problems


def test_admin_pages_create_and_revoke_a_user_and_a_key(browser_page, live_server):
    page = browser_page("admin", viewport=WIDE)
    name = f"wbm.{secrets.token_hex(3)}"
    page.goto("/admin/users")
    page.click("[data-testid=user-add]")
    page.fill(field("user-username"), name)
    page.click("[data-testid=user-roles]")
    page.click(".el-select-dropdown__item:has-text('派遣员')")
    page.keyboard.press("Escape")
    page.click("[data-testid=user-save]")
    password = page.wait_for_selector(field("secret-value")).input_value()
    page.click("[data-testid=secret-close]")
    assert httpx.post(f"{live_server}/api/auth/login", json={"username": name, "password": password}).status_code == 200

    page.goto("/admin/keys")
    page.click("[data-testid=key-add]")
    page.click("[data-testid=key-user]")
    page.click(f".el-select-dropdown__item:has-text('{name}')")
    # 图层: limited to 兴趣点 (pois) — the other layers answer 403, its other routes stay
    page.click("[data-testid=key-limited] .el-radio:has-text('仅限所选图层')")
    page.click("[data-testid=key-collections]")
    page.click(".el-select-dropdown__item:visible:has-text('兴趣点')")
    page.keyboard.press("Escape")
    page.click("[data-testid=key-save]")
    token = page.wait_for_selector(field("secret-value")).input_value()
    page.click("[data-testid=secret-close]")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live_server}/api/cases?limit=1", headers=bearer).status_code == 200
    assert httpx.get(f"{live_server}/ogc/collections/pois/items?limit=1", headers=bearer).status_code == 200
    assert httpx.get(f"{live_server}/ogc/collections/unit-grids/items?limit=1", headers=bearer).status_code == 403
    prefix = token.split("_")[1]
    page.wait_for_selector(f"[data-key-layers='{prefix}']:has-text('兴趣点')")
    page.click(f"[data-revoke='{prefix}']")
    page.click(".el-message-box .el-button--primary")
    page.wait_for_selector(f"[data-key-status='{prefix}']:has-text('已吊销')")
    assert httpx.get(f"{live_server}/api/cases?limit=1", headers=bearer).status_code == 401

    page.goto("/admin/users")
    page.click(f"[data-disable='{name}']")
    page.click(".el-message-box .el-button--primary")
    page.wait_for_selector(f"[data-status='{name}']:has-text('停用')")
    assert httpx.post(f"{live_server}/api/auth/login", json={"username": name, "password": password}).status_code == 401
    # on a phone the users are cards; 启用 lets him log in again
    phone = browser_page("admin", viewport={"width": 390, "height": 844})
    phone.goto("/admin/users")
    card = phone.locator(f"[data-testid=user-list] .admin-card[data-row='{name}']")
    card.wait_for()
    assert "停用" in card.inner_text() and phone.locator("[data-testid=user-list] table").count() == 0
    card.locator(f"[data-enable='{name}']").click()
    phone.wait_for_selector(f"[data-testid=user-list] .admin-card[data-row='{name}']:has-text('正常')")
    assert httpx.post(f"{live_server}/api/auth/login", json={"username": name, "password": password}).status_code == 200
    assert not phone.problems, phone.problems
    page.goto("/admin/audit")
    page.fill(field("audit-action"), "user.")
    page.press(field("audit-action"), "Enter")
    page.wait_for_selector(f"[data-testid=audit-list] td:has-text('user:{name}')")
    assert "启用用户" in page.inner_text("[data-testid=audit-list]")
    assert not page.problems, page.problems

    # a leader: no 管理 menu, and the admin API answers 403
    leader = browser_page("leader", viewport=WIDE)
    leader.goto("/supervision")
    leader.wait_for_selector("[data-testid=overdue-list]", timeout=60_000)
    leader.click(".top-nav-menu", timeout=60_000)  # the dropdown gives the button its own id
    leader.wait_for_selector("[data-page=dashboard]")
    assert leader.query_selector("[data-page=admin-users]") is None
    assert leader.request.get("/api/admin/users").status == 403
