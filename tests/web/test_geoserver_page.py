"""GeoServer 发布 on the 区平台对接 page (/exchange, admins): check, preview (nothing sent), publish (the
difference only) against the fake GeoServer, on a server of this module's own that is configured for it
(the shared demo town, nothing in the database is changed); desktop and phone."""
from __future__ import annotations

import pytest
from browser import shot

from civicgrid.geoserver.testing import FakeGeoServer
from civicgrid.testing import start_server

pytestmark = pytest.mark.browser
PASSWORD = "gs-admin-pw"


@pytest.fixture(scope="module")
def geoserver_site(demo_url):
    with FakeGeoServer(password=PASSWORD) as fake:
        proc, base = start_server(demo_url, {"CIVICGRID_GEOSERVER_URL": fake.url, "CIVICGRID_GEOSERVER_PASSWORD": PASSWORD,
                                             "CIVICGRID_GEOSERVER_DB_URL": "postgresql://gs_reader:db-pw@db:5432/civicgrid"})
        try:
            yield fake, base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_an_admin_previews_and_publishes_to_geoserver(browser_page, geoserver_site):
    fake, base = geoserver_site
    page = browser_page("admin", viewport={"width": 1920, "height": 1080}, base=base)
    page.goto("/exchange")
    page.click("[data-testid=geoserver-open]")
    page.wait_for_selector(f"[data-testid=geoserver-target]:has-text('{fake.url}')", timeout=60_000)
    page.wait_for_selector("[data-testid=geoserver-note]:has-text('21 项与本系统不一致')")
    page.click("[data-testid=geoserver-preview]")
    page.wait_for_selector("[data-testid=geoserver-note]:has-text('预览：将变更 21 项')")
    assert not fake.writes()
    assert "单元网格" in page.inner_text("[data-testid=geoserver-steps]")
    page.click("[data-testid=geoserver-publish]")
    page.click(".el-message-box__btns .el-button--primary")
    page.wait_for_selector("[data-testid=geoserver-note]:has-text('已发布：变更 21 项')")
    assert set(fake.workspaces) == {"civicgrid"} and "civicgrid_map" in fake.layergroups
    page.click("[data-testid=geoserver-check]")
    page.wait_for_selector("[data-testid=geoserver-note]:has-text('GeoServer 与本系统一致')")
    assert PASSWORD not in page.content() and "db-pw" not in page.content()
    assert page.outside == [] and not page.problems, page.problems
    shot(page, "geoserver-desktop")

    phone = browser_page("admin", viewport={"width": 390, "height": 844}, base=base)
    phone.goto("/exchange")
    phone.click("[data-testid=geoserver-open]")
    phone.wait_for_selector("[data-testid=geoserver-target]:has-text('GeoServer 2.24.2')", timeout=60_000)
    # the drawer slides in: its buttons end inside the phone's width once it is open (on a loaded
    # machine the first measurement can fall in the middle of the slide)
    phone.wait_for_function("""() => { const b = document.querySelector('[data-testid=geoserver-publish]')
        ?.getBoundingClientRect(); return b && b.width > 0 && b.right <= 390; }""", timeout=10_000)
    assert phone.outside == [] and not phone.problems, phone.problems
    shot(phone, "geoserver-phone")

    dispatcher = browser_page("dispatcher", base=base)
    dispatcher.goto("/")
    assert "geoserver.publish" not in dispatcher.request.get(base + "/api/auth/me").json()["actions"]
