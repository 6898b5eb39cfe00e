"""Supervised service: the systemd units, request ids in and out, JSON logs, /metrics (summed over
two workers; admins or the same machine only), a clean exit on SIGTERM."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from databases import start_server

from civicgrid.cli import main
from civicgrid.service import verify_units
from civicgrid.testing import app_client


def test_service_install_writes_units_that_restart_and_drain(tmp_path):
    result = CliRunner().invoke(main, ["service", "install", "--unit-dir", str(tmp_path), "--workers", "3"])
    assert result.exit_code == 0, result.output
    written = {p.name: p.read_text() for p in tmp_path.glob("*.service")}
    assert {"civicgrid.service", "civicgrid-timers.service"} <= set(written)
    for text in written.values():
        assert "Restart=on-failure" in text and "[Install]" in text
    server = written["civicgrid.service"]
    assert re.search(r"^ExecStart=\S+/civicgrid serve --workers 3$", server, re.M)
    assert "KillSignal=SIGTERM" in server and re.search(r"^TimeoutStopSec=\d+$", server, re.M)
    assert "Environment=CIVICGRID_BACKUP_INTERVAL_HOURS=0" in server   # what this shell uses
    if shutil.which("systemd-analyze"):
        assert verify_units(tmp_path) == ""
    printed = CliRunner().invoke(main, ["service", "install", "--print"])
    assert printed.exit_code == 0 and "# ---- civicgrid.service" in printed.output


@pytest.fixture(scope="module")
def two_workers(demo_url):
    proc, base = start_server(demo_url, workers=2)
    yield proc, base
    if proc.poll() is None:
        proc.kill()


def test_request_ids_json_logs_metrics_and_sigterm(two_workers):
    proc, base = two_workers
    with httpx.Client(base_url=base, timeout=10) as client:
        given = client.get("/api/health/live", headers={"X-Request-Id": "drill-42.a_b"})
        assert given.headers["x-request-id"] == "drill-42.a_b"
        made = client.get("/api/health/live", headers={"X-Request-Id": "not ok <script>"})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        for _ in range(20):   # new connections: both workers answer some
            httpx.get(base + "/api/health/live", timeout=10)
        assert client.get("/api/cases").status_code in (401, 403)
        page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    served = sum(float(v) for v in re.findall(
        r'^civicgrid_http_requests_total\{method="GET",route="/api/health/live",status="200"\} (\S+)$', text, re.M))
    assert served >= 22   # summed over the two workers' files
    assert re.search(r'^civicgrid_http_request_seconds_bucket\{.*route="/api/cases"', text, re.M)
    for gauge in ("civicgrid_db_pool_in_use", "civicgrid_jobs", "civicgrid_case_timers_pending"):
        assert re.search(rf"^{gauge}(\{{.*\}})? \S+$", text, re.M), gauge

    proc.terminate()   # SIGTERM: drain and exit cleanly
    assert proc.wait(30) == 0
    lines = [json.loads(line) for line in Path(proc.log_path).read_text().splitlines() if line.startswith("{")]
    ours = [r for r in lines if r.get("request_id") == "drill-42.a_b"]
    assert ours and ours[0]["route"] == "/api/health/live" and ours[0]["status"] == 200 and "ms" in ours[0]


def test_metrics_are_for_admins_from_elsewhere(demo_copy, tmp_path):
    with app_client(demo_copy, tmp_path) as client:   # the test client is not on the loopback
        assert client.get("/metrics").status_code in (401, 403)
        assert client.get("/metrics", headers=client.creds.headers("dispatcher")).status_code == 403
        assert client.get("/metrics", headers=client.creds.headers("admin")).status_code == 200
