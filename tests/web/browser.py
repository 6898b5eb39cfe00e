"""What the browser tests import by name: constants and page helpers (the fixtures are in conftest.py).

- `open_map(page)` goes to / and waits for the map's first `idle` with the default layers.
- `shot(page, name)` saves a screenshot under tests/artifacts/.
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
