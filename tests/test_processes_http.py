"""The processes through HTTP: `civicgrid serve` (pygeoapi at /ogc) on the tiny hand-made town.

Sync and async execution, 400s that name the parameter, the go-async 400, results and job status
that survive a server restart, and cancellation through DELETE /jobs/{id}. The access layer lets
only staff run processes and read jobs: every request carries a dispatcher's API key (`AUTH`).
Ownership of jobs is tested in test_security_jobs.py.
"""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from civicgrid.db import connect
from civicgrid.processes import synthetic as S

CST = timezone(timedelta(hours=8))
MARCH = {"start": "2026-03-01T00:00:00+08:00", "end": "2026-04-01T00:00:00+08:00"}
AUTH: dict = {}         # the dispatcher's Authorization header, set by `town_url`


def dispatcher_headers(url: str) -> dict:
    from civicgrid.security.testing import Credentials

    return Credentials(url).headers("dispatcher")


@pytest.fixture(scope="module")
def town_url(pg_admin_url):
    from databases import drop_database, migrated_database

    url = migrated_database(pg_admin_url)
    with connect(url) as conn:
        meta = S.build_town(conn)
        for k in range(8):
            S.add_case(conn, 470150 + 5 * k, 4440850, reported_at=datetime(2026, 3, 2, 9, tzinfo=CST),
                       officer_id=meta["officers"][0], events=[("report", datetime(2026, 3, 2, 9, tzinfo=CST), "reported"),
                                                               ("file", datetime(2026, 3, 2, 10, tzinfo=CST), "filed")])
        conn.commit()
    AUTH.update(dispatcher_headers(url))
    yield url
    drop_database(pg_admin_url, url)


def serve(url):
    from databases import start_server

    return start_server(url)


def stop(proc):
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def server(town_url):
    proc, base = serve(town_url)
    yield base + "/ogc"
    stop(proc)


def execute(base, pid, inputs, prefer=None, auth=None):
    headers = {**(AUTH if auth is None else auth), **({"Prefer": prefer} if prefer else {})}
    return httpx.post(f"{base}/processes/{pid}/execution", json={"inputs": inputs}, headers=headers, timeout=60)


def test_processes_are_listed_and_described(server):
    listed = httpx.get(f"{server}/processes?f=json", headers=AUTH).json()
    ids = {p["id"] for p in listed["processes"]}
    assert {"heatmap", "cluster", "hotspots", "area-evaluation", "patrol-coverage", "track"} <= ids
    doc = httpx.get(f"{server}/processes/cluster?f=json", headers=AUTH).json()
    assert doc["inputs"]["eps"]["schema"]["exclusiveMinimum"] == 0 and doc["inputs"]["eps"]["schema"]["maximum"] == 2000
    assert "async-execute" in doc["jobControlOptions"]


def test_sync_execution(server):
    r = execute(server, "heatmap", {"source": "cases", "cell_size": 100})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert r.json()["total"] == 8
    r = execute(server, "area-evaluation", {"level": "community", "format": "csv", **MARCH})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.decode("utf-8").lstrip("\ufeff").splitlines()[1].startswith(S.COMMUNITIES[0] + ",测试社区1,8,")


def test_results_raw_and_document(server):
    """OGC API - Processes 1.0: raw (the default) is the value with its media type; the results
    document is {"<output id>": {"mediaType", "value"}}, asked by `response` or Prefer."""
    post = lambda body, prefer=None: httpx.post(  # noqa: E731
        f"{server}/processes/heatmap/execution", json=body, timeout=60,
        headers={**AUTH, **({"Prefer": prefer} if prefer else {})})
    inputs = {"source": "cases", "cell_size": 100}
    raw = post({"inputs": inputs, "response": "raw"})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/geo+json")
    assert raw.json()["type"] == "FeatureCollection" and raw.json()["total"] == 8
    for r in (post({"inputs": inputs, "response": "document"}), post({"inputs": inputs}, prefer="return=minimal")):
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
        doc = r.json()
        assert list(doc) == ["heatmap"] and doc["heatmap"]["mediaType"] == "application/geo+json"
        assert doc["heatmap"]["value"]["type"] == "FeatureCollection" and doc["heatmap"]["value"]["total"] == 8
    assert post({"inputs": inputs, "response": "document"}, prefer="return=representation").json()["heatmap"]
    assert post({"inputs": inputs}, prefer="return=representation").json()["total"] == 8
    png = post({"inputs": {"source": "cases", "method": "kde", "format": "png"}, "response": "document"}).json()
    assert png["heatmap"]["mediaType"] == "image/png" and png["heatmap"]["encoding"] == "base64"
    assert base64.b64decode(png["heatmap"]["value"]).startswith(b"\x89PNG")
    bad = post({"inputs": inputs, "response": "inline"})
    assert bad.status_code == 400 and bad.json()["field"] == "response"
    bad = post({"inputs": inputs, "outputs": {"cells": {}}})
    assert bad.status_code == 400 and "no output 'cells'" in bad.json()["description"]


@pytest.mark.parametrize("pid, inputs, words", [
    ("heatmap", {"cell_size": 1}, "cell_size: Input should be greater than or equal to 10"),
    ("cluster", {"minpoints": 0}, "minpoints: Input should be greater than or equal to 1"),
    ("hotspots", {"units": "hexagons"}, "units: Input should be 'cells' or 'unit_grids'"),
    ("track", {"officer": 1}, "start: Field required"),
    ("area-evaluation", {"level": "street", **MARCH}, "level: Input should be"),
    ("heatmap", {"community": "110113004999"}, "community: no community with code 110113004999"),
])
def test_bad_parameters_are_400_naming_the_parameter(server, pid, inputs, words):
    r = execute(server, pid, inputs)
    assert r.status_code == 400, r.text
    assert words in r.json()["description"]


def test_async_job_results_survive_a_restart(town_url):
    proc, base = serve(town_url)
    ogc = base + "/ogc"
    try:
        r = execute(ogc, "area-evaluation", {"level": "unit_grid", **MARCH}, prefer="respond-async")
        assert r.status_code == 201 and r.headers["preference-applied"] == "respond-async"
        location = r.headers["location"]
        job_id = r.json()["jobID"]
        assert location.endswith(f"/jobs/{job_id}")
        # a second job asking for the results document (Prefer tokens combined as RFC 7240 allows)
        r = httpx.post(f"{ogc}/processes/heatmap/execution", json={"inputs": {"source": "cases"}},
                       headers={**AUTH, "Prefer": "respond-async, return=minimal"}, timeout=60)
        assert r.status_code == 201, r.text
        document_job = r.json()["jobID"]
    finally:
        stop(proc)          # the server goes away right after accepting the job
    proc, base = serve(town_url)
    ogc = base + "/ogc"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            status = httpx.get(f"{ogc}/jobs/{job_id}?f=json", headers=AUTH).json()["status"]
            if status in ("successful", "failed"):
                break
            time.sleep(0.3)
        assert status == "successful"
        result = httpx.get(f"{ogc}/jobs/{job_id}/results?f=json", headers=AUTH)
        assert result.status_code == 200
        doc = json.loads(result.content)
        assert doc["numberMatched"] == 50
        assert next(f for f in doc["features"] if f["id"] == "110113004001001")["properties"]["filed"] == 8
        while time.time() < deadline and httpx.get(f"{ogc}/jobs/{document_job}?f=json",
                                                   headers=AUTH).json()["status"] not in ("successful", "failed"):
            time.sleep(0.3)
        result = httpx.get(f"{ogc}/jobs/{document_job}/results?f=json", headers=AUTH)
        assert result.status_code == 200 and result.headers["content-type"].startswith("application/json")
        assert result.json()["heatmap"]["mediaType"] == "application/geo+json"
        assert result.json()["heatmap"]["value"]["total"] == 8
        r = httpx.delete(f"{ogc}/jobs/{job_id}", headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "dismissed"
        assert httpx.get(f"{ogc}/jobs/{job_id}?f=json", headers=AUTH).status_code == 404
    finally:
        stop(proc)


def test_too_large_for_sync_is_a_400_that_says_go_async(town_url, tmp_path):
    """With a sync limit of 3 rows configured for heatmap, 8 cases must go async."""
    import yaml

    from civicgrid.settings import REPO_ROOT

    cfg = yaml.safe_load((REPO_ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8"))
    cfg["resources"]["heatmap"]["processor"]["sync_limit"] = 3
    path = tmp_path / "pygeoapi-config.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    from databases import start_server

    proc, base = start_server(town_url, {"CIVICGRID_PYGEOAPI_CONFIG": str(path)})
    try:
        r = execute(base + "/ogc", "heatmap", {"source": "cases"})
        assert r.status_code == 400 and "Prefer: respond-async" in r.json()["description"]
        r = execute(base + "/ogc", "heatmap", {"source": "cases"}, prefer="respond-async")
        assert r.status_code == 201
    finally:
        stop(proc)


def test_on_the_demo_town(demo_copy):
    """On the demo town: the position heatmap (roll-up path) counts every fix, and the unit-grid
    evaluation's 立案数 adds up to the filed, not suspended/cancelled cases. A copy of the town and a
    server of its own, because the dispatcher's key is a write the shared demo town must not get."""
    auth = dispatcher_headers(demo_copy)
    proc, base = serve(demo_copy)
    try:
        _check_demo_town(base + "/ogc", demo_copy, auth)
    finally:
        stop(proc)


def _check_demo_town(ogc, url, auth):
    r = execute(ogc, "heatmap", {"source": "positions", "cell_size": 100}, auth=auth)
    assert r.status_code == 200
    with connect(url) as conn:
        fixes = conn.execute("SELECT count(*) AS n FROM officer_position").fetchone()["n"]
        span = conn.execute("SELECT min(at) AS a, max(at) AS b FROM case_event").fetchone()
        start, end = span["a"] - timedelta(days=1), span["b"] + timedelta(days=1)
        filed = conn.execute(
            "SELECT count(*) AS n FROM cases c WHERE EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.action = 'file') "
            "AND (SELECT e.to_state FROM case_event e WHERE e.case_id = c.id AND e.to_state IS NOT NULL ORDER BY e.seq DESC LIMIT 1) "
            "NOT IN ('suspended', 'cancelled')").fetchone()["n"]
    assert r.json()["total"] == fixes > 0
    r = execute(ogc, "area-evaluation", {"level": "unit_grid", "start": start.isoformat(), "end": end.isoformat()},
                auth=auth)
    assert r.status_code == 200
    features = r.json()["features"]
    assert sum(f["properties"]["filed"] for f in features) == filed > 0
    assert {f["properties"]["grade"] for f in features} <= set("ABCDE")
