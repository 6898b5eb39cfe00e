"""编辑 on the map in a real browser, as the GIS editor, on a private copy of the demo town: a component
is selected, dragged to a new place and renamed (a name too long is refused on its field by the
server), its history shows the change and one change is reverted; a second editor's concurrent change
gives the conflict view (who, which field before/after) and a reload that keeps the typed input; a POI
is added and deleted; a dispatcher sees no 编辑 tool and his writes are refused (403)."""
from __future__ import annotations

import json

import pytest
from browser import WEB_PASSWORD, idle, open_map, shot
from databases import copy_demo, drop_database, serving

from civicgrid.db import connect

pytestmark = pytest.mark.browser
STATE = "window.__civicgrid.edit.state"


@pytest.fixture(scope="module")
def town_url(demo_url, web_users, pg_admin_url):
    url = copy_demo(pg_admin_url)      # after web_users: the copy has the web.<role> users
    from civicgrid.security.identity import add_user

    with connect(url) as conn:
        add_user(conn, "web.gis_editor2", ["gis_editor"], password=WEB_PASSWORD, display_name="第二编辑员")
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def live_server(town_url):
    with serving(town_url) as base:
        yield base


def pixel(page, lon, lat):
    p = page.evaluate("([lon, lat]) => window.__civicgrid.map.project([lon, lat])", [lon, lat])
    box = page.locator(".map-canvas").bounding_box()
    return box["x"] + p["x"], box["y"] + p["y"]


def component(url):
    with connect(url) as conn:
        # a point well inside its unit grid: the drag below keeps it there
        return conn.execute(
            "SELECT c.id, c.name, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat FROM "
            " (SELECT * FROM component WHERE GeometryType(geom) = 'POINT' ORDER BY id LIMIT 300) c "
            "JOIN unit_grid g ON g.code = c.unit_grid_code "
            "ORDER BY ST_Distance(c.geom::geography, ST_Boundary(g.geom)::geography) DESC, c.id LIMIT 1").fetchone()


def start_edit(page, lon, lat):
    open_map(page)
    page.evaluate("([lon, lat]) => window.__civicgrid.map.jumpTo({center: [lon, lat], zoom: 18})", [lon, lat])
    idle(page)
    page.click("#tool-bar [data-tool='edit']")
    page.wait_for_function(f"window.__civicgrid.edit && {STATE}.fields.length > 0")


def at_version(page, version: int, extra: str = f"!{STATE}.busy"):
    """Wait until the loaded feature has `version`; a refusal instead fails with the panel's message."""
    page.wait_for_function(f"({STATE}.feature && {STATE}.feature.etag === '\"{version}\"' && {extra})"
                           f" || (!{STATE}.busy && Object.keys({STATE}.errors).length > 0)", timeout=20_000)
    assert page.evaluate(f"{STATE}.feature.etag") == f'"{version}"', page.inner_text("#edit-message")


def confirm(page, button: str):
    page.locator(".el-message-box__btns button", has_text=button).click()


def test_move_rename_history_revert_and_conflict(browser_page, town_url):
    c = component(town_url)
    page = browser_page("gis_editor")
    start_edit(page, c["lon"], c["lat"])
    x, y = pixel(page, c["lon"], c["lat"])
    # snapping: a vertex dragged near the component lands on it
    snapped = page.evaluate("([lon, lat]) => { const p = window.__civicgrid.map.project([lon, lat]);"
                            " return window.__civicgrid.edit.snapToRendered({containerX: p.x + 4, containerY: p.y - 3}); }",
                            [c["lon"], c["lat"]])
    assert snapped == pytest.approx([c["lon"], c["lat"]], abs=1e-6)
    page.mouse.click(x, y)
    page.wait_for_function(f"{STATE}.feature && {STATE}.feature.id === '{c['id']}'", timeout=20_000)
    assert page.input_value("#edit-field-name") == c["name"]
    v0 = int(page.evaluate(f"{STATE}.feature.etag").strip('"'))

    # drag the point 60 px east and rename it
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 7):
        page.mouse.move(x + 10 * i, y, steps=2)
    page.mouse.up()
    page.wait_for_function(f"{STATE}.geometryChanged")
    page.fill("#edit-field-name", "x" * 31)
    page.click("#edit-save")
    error = page.locator(".el-form-item[data-field='name'] .el-form-item__error")
    error.wait_for()
    assert "name" in error.inner_text() or "30" in error.inner_text()
    page.fill("#edit-field-name", "改位井盖")
    page.click("#edit-save")
    at_version(page, v0 + 1)
    with connect(town_url) as conn:
        row = conn.execute("SELECT name, ST_Distance(ST_Transform(geom, 4548), "
                           "ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4490), 4548)) AS moved FROM component WHERE id = %s",
                           [c["lon"], c["lat"], c["id"]]).fetchone()
    assert row["name"] == "改位井盖" and row["moved"] > 1, row

    # the history: who, what before/after; revert the change (a new version)
    page.click("#tab-history")
    page.wait_for_function(f"{STATE}.history && {STATE}.history.changes.length >= 1")
    first = page.locator("#edit-history .edit-change").first
    assert first.get_attribute("data-operation") == "update"
    text = first.inner_text()
    assert "改位井盖" in text and c["name"] in text and "几何" in text
    shot(page, "web_map_edit_history")
    first.locator(".edit-revert").click()
    confirm(page, "撤销")
    at_version(page, v0 + 2)
    assert page.evaluate(f"{STATE}.feature.properties.name") == c["name"]
    page.wait_for_function(f"{STATE}.history.changes.length >= 2 && {STATE}.history.changes[0].changed.includes('name')")

    # a second editor changes the status meanwhile: the save is refused with what he changed
    other = browser_page(None)
    assert other.request.post("/api/auth/login", data={"username": "web.gis_editor2", "password": WEB_PASSWORD}).ok
    csrf = other.request.get("/api/auth/me").json()["csrf_token"]
    r = other.request.patch(f"/ogc/collections/urban-components/items/{c['id']}",
                            data=json.dumps({"properties": {"status": "破损"}}),
                            headers={"If-Match": f'"{v0 + 2}"', "X-CSRF-Token": csrf, "Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r.text()
    page.click("#tab-attributes")
    page.fill("#edit-field-name", "我的新名字")
    page.click("#edit-save")
    page.locator("#edit-conflict").wait_for()
    conflict = page.inner_text("#edit-conflict")
    assert "第二编辑员" in conflict and "破损" in conflict
    assert page.locator("#edit-conflict tr[data-field='status']").count() == 1
    shot(page, "web_map_edit_conflict")
    page.click("#edit-reload-mine")
    at_version(page, v0 + 3, f"!{STATE}.conflict")
    assert page.input_value("#edit-field-name") == "我的新名字"
    page.click("#edit-save")
    at_version(page, v0 + 4)
    with connect(town_url) as conn:
        row = conn.execute("SELECT name, status FROM component WHERE id = %s", [c["id"]]).fetchone()
    assert (row["name"], row["status"]) == ("我的新名字", "破损")
    # the browser logs the refused writes (400 name too long, 412 stale); nothing else
    assert [p for p in page.problems if "status of 400" not in p and "status of 412" not in p] == [], page.problems
    assert page.outside == []


def test_add_and_delete_a_poi(browser_page, town_url):
    c = component(town_url)
    page = browser_page("gis_editor")
    start_edit(page, c["lon"] + 0.0005, c["lat"] + 0.0005)
    page.evaluate("window.__civicgrid.edit.chooseCollection('pois')")
    page.wait_for_function(f"{STATE}.collection === 'pois' && {STATE}.fields.some(f => f.name === 'category')")
    page.click("#edit-add")
    page.mouse.click(*pixel(page, c["lon"] + 0.0005, c["lat"] + 0.0005))
    page.wait_for_function(f"{STATE}.drawn")
    page.fill("#edit-field-name", "新建兴趣点")
    page.fill("#edit-field-category", "学校")
    page.click("#edit-save")
    page.wait_for_function(f"{STATE}.feature && {STATE}.feature.id && !{STATE}.adding && !{STATE}.busy", timeout=20_000)
    poi = page.evaluate(f"{STATE}.feature.id")
    with connect(town_url) as conn:
        assert conn.execute("SELECT name FROM poi WHERE id = %s", [int(poi)]).fetchone()["name"] == "新建兴趣点"
    page.click("#edit-delete")
    confirm(page, "删除")
    page.wait_for_function(f"!{STATE}.feature && !{STATE}.busy")
    with connect(town_url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM poi WHERE id = %s", [int(poi)]).fetchone()["n"] == 0
    assert page.problems == [] and page.outside == []


def test_no_editing_without_the_editor_role(browser_page, town_url):
    c = component(town_url)
    page = browser_page("dispatcher")
    open_map(page)
    assert page.locator("#tool-bar [data-tool='identify']").count() == 1
    assert page.locator("#tool-bar [data-tool='edit']").count() == 0
    csrf = page.request.get("/api/auth/me").json()["csrf_token"]
    headers = {"If-Match": '"1"', "X-CSRF-Token": csrf, "Content-Type": "application/merge-patch+json"}
    r = page.request.patch(f"/ogc/collections/urban-components/items/{c['id']}",
                           data=json.dumps({"properties": {"name": "不该改"}}), headers=headers)
    assert r.status == 403
    r = page.request.post(f"/api/features/urban-components/{c['id']}/revert", data=json.dumps({"history_id": 1}),
                          headers={**headers, "Content-Type": "application/json"})
    assert r.status == 403
    assert page.request.get(f"/api/features/urban-components/{c['id']}/history").status == 403
