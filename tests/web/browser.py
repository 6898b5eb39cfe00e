"""What the browser tests import by name: constants and page helpers (the fixtures are in conftest.py).

- `open_map(page)` goes to / and waits for the map's first `idle` with the default layers.
- `shot(page, name)` saves a screenshot under tests/artifacts/.
- `click_case_map(page, lon, lat, scope)` a real click at lon/lat on a case page's map (CaseMap.vue) inside `scope`.
- `pick_category(page, scope, query, name)` the category tree (CategorySelect.vue) searched, a class clicked.
- `open_intake(page)` goes to 受理 (/intake) and waits until its channels are known.
- `api_as(base, role)` an httpx client of the server at `base` logged in as `web.<role>` (with its CSRF token).
"""
from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-default-apps", "--disable-sync"]
WEB_PASSWORD = "web-test-password"
ROLES = ("admin", "intake_operator", "shift_leader", "dispatcher", "leader", "department_handler",
         "grid_officer", "gis_editor", "evaluator", "district_platform", "ops_staff")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IDLE = ("new Promise(r => { const m = window.__civicgrid.map;"
        " if (m.loaded() && m.areTilesLoaded()) r(); else m.once('idle', () => r()); })")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def open_map(page, path: str = "/") -> None:
    page.goto(path)
    # generous: the machine's two cores may be shared with other test sessions
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
    page.evaluate(IDLE)


def idle(page) -> None:
    page.evaluate(IDLE)


def rendered(page, layers: list[str]) -> int:
    return page.evaluate("layers => window.__civicgrid.map.queryRenderedFeatures({layers}).length", layers)


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def click_case_map(page, lon: float, lat: float, scope: str) -> None:
    """A real click on the case map inside `scope` at lon/lat (the view is moved there first)."""
    x, y = page.evaluate("""([scope, lon, lat]) => {
        const m = document.querySelector(scope + ' [data-testid=case-map]').__map;
        m.jumpTo({center: [lon, lat], zoom: 17});
        const r = m.getCanvas().getBoundingClientRect(), p = m.project([lon, lat]);
        return [r.left + p.x, r.top + p.y];
    }""", [scope, lon, lat])
    page.mouse.click(x, y)


def pick_category(page, scope: str, query: str, name: str) -> None:
    """Search the category tree inside `scope` by name, pinyin or initials and click the class `name`."""
    item = page.locator(scope)
    item.locator(".el-select__wrapper").click()
    item.locator("input").fill(query)
    page.locator(".el-tree-node__content:visible", has_text=name).first.click()


def open_intake(page) -> None:
    page.goto("/intake")
    page.wait_for_function("document.body.dataset.intakeReady === '1'", timeout=60_000)


def api_as(base: str, role: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=30)
    r = client.post("/api/auth/login", json={"username": f"web.{role}", "password": WEB_PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client
