"""/api's OpenAPI document (civicgrid/openapi.py) describes the routes and models the handlers use,
and a bounded schemathesis run over it, with an admin key, gets no 5xx from a real server (on a
private copy of the demo town: the run writes)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from civicgrid.security.testing import Credentials
from civicgrid.testing import start_server

SCHEMATHESIS_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def fuzz_server(demo_url, pg_admin_url):
    from databases import copy_demo, drop_database

    url = copy_demo(pg_admin_url)
    proc, base = start_server(url)
    yield url, base
    proc.terminate()
    proc.wait(10)
    drop_database(pg_admin_url, url)


def test_openapi_lists_the_routes_with_their_models(fuzz_server):
    _, base = fuzz_server
    doc = httpx.get(base + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    post = doc["paths"]["/cases"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/IntakeIn")
    intake = doc["components"]["schemas"]["IntakeIn"]
    assert "channel" in intake["required"] and intake["additionalProperties"] is False
    assert doc["paths"]["/cases/{id}"]["get"]["parameters"][0]["schema"] == {"type": "integer"}
    assert {"/health/live", "/health/ready", "/auth/login", "/survey/export"} <= set(doc["paths"])


def test_schemathesis_finds_no_server_error(fuzz_server, tmp_path):
    url, base = fuzz_server
    token = Credentials(url).token("admin")
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run([str(cli), "run", f"{base}/api/openapi.json", "--checks", "not_a_server_error",
                          "--max-examples", "5", "--seed", "1", "--request-timeout", "20", "--no-color",
                          "--header", f"Authorization: Bearer {token}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=SCHEMATHESIS_TIMEOUT_S)
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail.split("Test cases:")[-1], tail
