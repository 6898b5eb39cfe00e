"""区平台对接 (/exchange, admins): the status cards and the outbox list from /api/exchange, at 1920×1080 and
on a phone; the page is in the 管理 menu only for admins (reads only: the shared demo town is not changed)."""
from __future__ import annotations

import pytest
from browser import shot

pytestmark = pytest.mark.browser


def test_exchange_page_for_admins(browser_page):
    for name, viewport in (("desktop", {"width": 1920, "height": 1080}), ("phone", {"width": 390, "height": 844})):
        page = browser_page("admin", viewport=viewport)
        page.goto("/exchange")
        page.wait_for_selector("[data-testid=exchange-status]", timeout=60_000)
        text = page.inner_text("[data-testid=exchange-status]")
        assert "死信" in text and "上报及时率" in text
        page.wait_for_selector("[data-testid=exchange-list]")
        assert page.outside == [] and not page.problems, page.problems
        shot(page, f"exchange-{name}")
    me = browser_page("dispatcher")
    me.goto("/exchange")
    assert me.request.get(me.base + "/api/auth/me").json()["actions"].count("exchange.monitor") == 0
