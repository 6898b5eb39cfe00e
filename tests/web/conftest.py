"""Browser tests of the web app: Debian's chromium driven by Playwright against `live_server`.

- `web_users`     one user per role on the session's demo town, `web.<role>`, password WEB_PASSWORD
                  (department handlers and grid officers bound to the first department / officer)
- `chromium`      the browser, launched once per session
- `browser_page`  a factory: `browser_page(role=None, viewport=..., base=None, **context options)` → a
                  page in a fresh context, logged in as `web.<role>` (None: anonymous), on `live_server`
                  or on `base` (a server of the test's own on the same demo town). Every request that
                  would leave 127.0.0.1 is recorded in `page.outside` and aborted; console errors,
                  page errors and failed requests land in `page.problems`.
- `open_map(page)` goes to / and waits for the map's first `idle` with the default layers.
- `shot(page, name)` saves a screenshot under tests/artifacts/.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import ARGS, ARTIFACTS, CHROMIUM, LOOPBACK, ROLES, WEB_PASSWORD


@pytest.fixture(scope="session")
def web_users(demo_url):
    from civicgrid.db import connect
    from civicgrid.security.identity import add_user

    with connect(demo_url) as conn:
        department = conn.execute("SELECT code FROM department ORDER BY code LIMIT 1").fetchone()["code"]
        officer = conn.execute("SELECT code FROM officer ORDER BY code LIMIT 1").fetchone()["code"]
        for role in ROLES:
            name = f"web.{role}"
            if conn.execute("SELECT 1 FROM app_user WHERE username = %s", [name]).fetchone():
                continue
            binding = {"department": department} if role == "department_handler" else \
                {"officer": officer} if role == "grid_officer" else {}
            add_user(conn, name, [role], password=WEB_PASSWORD, **binding)
    return {role: f"web.{role}" for role in ROLES}


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _watch(context, page) -> None:
    page.problems, page.outside = [], []

    def route(r):
        host = urlsplit(r.request.url).hostname or ""
        if host in LOOPBACK:
            r.continue_()
        else:
            page.outside.append(r.request.url)
            r.abort()

    context.route(lambda url: url.startswith(("http:", "https:", "ws:", "wss:")), route)
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    # tiles no longer needed after a zoom are aborted by MapLibre: not a failure
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url} {r.failure}")
            if "ERR_ABORTED" not in (r.failure or "") else None)


@pytest.fixture
def browser_page(chromium, live_server, web_users):
    contexts = []

    def open_page(role: str | None = None, viewport=None, base: str | None = None, **options):
        context = chromium.new_context(base_url=base or live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                       viewport=viewport or {"width": 1440, "height": 900}, **options)
        contexts.append(context)
        if role:
            r = context.request.post("/api/auth/login", data={"username": web_users[role], "password": WEB_PASSWORD})
            assert r.ok, r.text()
        page = context.new_page()
        page.base = base or live_server
        _watch(context, page)
        return page

    yield open_page
    for context in contexts:
        context.close()
