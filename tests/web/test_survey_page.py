"""普查工作台 in a real browser, as the GIS editor, on a private copy of the demo town (it publishes
and rolls back): a GeoPackage in EPSG:4527 with good and broken rows is uploaded; each broken row is
in the problem table (row number, component ID) and on the map; one is fixed in the page and the
batch re-checked; publishing everything is refused, the valid rows are published and the live layer
shows them; a second batch is published and rolled back."""
from __future__ import annotations

import pytest
from browser import shot
from databases import copy_demo, drop_database, serving

from civicgrid.db import connect
from civicgrid.survey import testing as T

pytestmark = pytest.mark.browser
ROW_STATES = ("() => window.__civicgrid.map.queryRenderedFeatures({layers: ['survey-rows-point']})"
              ".map(f => f.properties.state)")


@pytest.fixture(scope="module")
def town_url(demo_url, web_users, pg_admin_url):
    url = copy_demo(pg_admin_url)      # after web_users: the copy has the web.<role> users
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def live_server(town_url):
    with serving(town_url) as base:
        yield base


def open_survey(page):
    page.goto("/survey")
    page.wait_for_function("document.body.dataset.surveyReady === '1'", timeout=120_000)


def upload(page, path, status_text: str):
    page.click("#tab-import")
    page.set_input_files("#survey-file", str(path))
    page.click("#survey-upload")
    page.wait_for_function("s => document.querySelector('#survey-summary')?.dataset.batch?.startsWith(s)",
                           arg=path.stem, timeout=60_000)
    page.wait_for_function("t => document.querySelector('#survey-counts').innerText.includes(t)", arg=status_text)


def pick(page, select: str, option: str):
    # the id is on Element Plus's inner input; its wrapper takes the click
    page.locator(select).locator("xpath=ancestor::div[contains(@class,'el-select__wrapper')][1]").click()
    page.locator(".el-select-dropdown:visible .el-select-dropdown__item", has_text=option).first.click()


def test_upload_fix_publish_and_roll_back(browser_page, town_url, tmp_path):
    frame, bad = T.demo_survey_frame(town_url)
    first = T.write_gpkg(frame, tmp_path / "renhe-4527.gpkg")
    second = T.write_gpkg(T.demo_survey_frame(town_url, n_good=4, serial=910001, offset=20)[0].iloc[:4],
                          tmp_path / "renhe-more.gpkg")
    with connect(town_url) as conn:
        good_dept = conn.execute("SELECT code FROM department WHERE uscc_is_valid(code) ORDER BY code LIMIT 1 OFFSET 1"
                                 ).fetchone()["code"]
    page = browser_page("gis_editor", viewport={"width": 1920, "height": 1080})
    open_survey(page)

    upload(page, first, "错误 3")
    assert page.inner_text("#survey-detected-crs") == "EPSG:4527"
    table = page.locator("#survey-problems tbody tr")
    assert table.count() == 3
    for name, row_no in bad.items():
        text = table.nth(list(bad.values()).index(row_no)).inner_text()
        assert str(row_no) in text and frame.loc[row_no - 1, "GLBJBSM"] in text, (name, text)
    # every row on the map, the broken ones in the error style
    page.wait_for_function(f"() => ({ROW_STATES})().filter(s => s === 'error').length === 3", timeout=30_000)
    assert page.evaluate(ROW_STATES).count("insert") == 6

    pick(page, "#survey-check-filter", "几何位于本镇范围之外")
    page.wait_for_function("() => document.querySelectorAll('#survey-problems tbody tr').length === 1")
    assert page.locator("#survey-problems tbody tr").inner_text().startswith(str(bad["outside"]))
    pick(page, "#survey-check-filter", "单位代码不是有效的统一社会信用代码")
    page.wait_for_function("() => document.querySelectorAll('#survey-problems tbody tr').length === 1")
    page.locator("#survey-problems tbody tr").click()
    page.wait_for_selector(f"#survey-fix[data-row='{bad['dept_invalid']}']")
    assert "ZGBMDM" in page.inner_text("#survey-fix .issues")
    pick(page, "#fix-ZGBMDM", good_dept)     # the department picker
    page.fill("#fix-note", "主管部门代码笔误")
    page.click("#fix-save")
    page.wait_for_function("() => document.querySelector('#survey-counts').innerText.includes('错误 2')")
    assert page.inner_text("#survey-correction-count") == "1"
    page.click("#survey-recheck")
    page.wait_for_selector(".el-message--success")
    assert "错误 2" in page.inner_text("#survey-counts")
    shot(page, "survey-batch-1920")

    page.click("#survey-publish-all")
    page.wait_for_selector("#survey-refusal")
    assert "2 row(s) with errors" in page.inner_text("#survey-refusal")
    page.click("#survey-publish-valid")
    page.wait_for_selector("#survey-summary[data-status='partially_published']")
    fixed_id = frame.loc[bad["dept_invalid"] - 1, "GLBJBSM"]
    assert page.request.get(f"/ogc/collections/urban-components/items/{fixed_id}?f=json").ok
    # the live layer on the page's map shows the published component
    lon, lat = frame.loc[bad["dept_invalid"] - 1, ["lon", "lat"]]
    page.evaluate("([lon, lat]) => window.__civicgrid.map.jumpTo({center: [lon, lat], zoom: 17})", [lon, lat])
    page.wait_for_function(
        "id => window.__civicgrid.map.querySourceFeatures('urban-components', {sourceLayer: 'urban-components'})"
        ".some(f => f.properties.id === id)", arg=fixed_id, timeout=30_000)

    upload(page, second, "错误 0")
    page.click("#survey-publish-all")
    page.wait_for_selector("#survey-summary[data-status='published']")
    second_id = page.evaluate("window.__civicgrid.survey.rows.value.features[0].properties.component_id")
    assert page.request.get(f"/ogc/collections/urban-components/items/{second_id}?f=json").ok
    page.click("#survey-rollback")
    page.locator(".el-message-box .el-button--primary").click()
    page.wait_for_selector("#survey-summary[data-status='rolled_back']")
    assert page.request.get(f"/ogc/collections/urban-components/items/{second_id}?f=json").status == 404
    assert page.locator("#survey-history tbody tr").count() == 2

    # coverage and the first batch's changes (the latest published one is rolled back)
    page.click("#tab-coverage")
    page.wait_for_function("() => document.querySelector('#changes-batch').innerText.startsWith('renhe-4527')")
    empty = page.evaluate("window.__civicgrid.survey.coverage().features.filter(f => !f.properties.surveyed).length")
    assert f"未普查（无部件）网格 {empty} 个" in page.inner_text("#coverage-stats") and empty > 0
    assert "新增 7" in page.inner_text("[data-change='new']")
    shot(page, "survey-coverage-1920")
    # the one refused request is the publish of everything (412, shown on the page)
    assert [p for p in page.problems if "412" not in p] == [] and not page.outside, (page.problems, page.outside)

    phone = browser_page("gis_editor", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    open_survey(phone)
    assert phone.locator("#survey-upload").is_visible()
    shot(phone, "survey-phone")
