"""The database stopped under a running server and started again, on a private cluster of this test
(the session's cluster is shared by every test): every database-backed route answers 503 with
Retry-After and a JSON body within 1 s while it is down, and requests succeed again within 5 s of
the database being back — the first one and every one after it."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from civicgrid.testing import start_server

DOWN_ANSWER_S = 1.0
RECOVERY_S = 5.0


@pytest.fixture(scope="module")
def private_cluster(cluster_templates):
    base = Path(tempfile.mkdtemp(prefix="civicgrid-outage-"))
    cluster = cluster_templates.copy(base / "data", migrated=True)
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


def _wait_db(dsn: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.05)
    raise AssertionError("database did not come back")


def test_database_outage_answers_503_fast_and_recovers(private_cluster):
    from civicgrid.security.testing import Credentials

    dsn = private_cluster.dsn
    admin = Credentials(dsn).headers("admin")
    proc, base = start_server(dsn, env_extra={"CIVICGRID_DATA_DIR": str(private_cluster.data_dir)})
    routes = [("GET", "/api/cases?limit=1", admin),                 # the authentication path (key)
              ("GET", "/ogc/collections/pois/items?limit=1", {}),
              ("GET", "/api/health", {}),
              ("GET", "/api/health/ready", {}),
              ("POST", "/api/cases", {"Content-Type": "application/json"})]   # anonymous: rate limit in SQL
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for method, path, headers in routes[:2]:
                assert client.request(method, path, headers=headers).status_code == 200
            # warm every pool connection so that dead ones would be handed out after the restart
            for _ in range(20):
                client.get("/api/cases?limit=1", headers=admin)
            private_cluster.stop()
            slowest = 0.0
            for _ in range(3):
                for method, path, headers in routes:
                    t0 = time.monotonic()
                    r = client.request(method, path, headers=headers, content=b"{}" if method == "POST" else None)
                    took = time.monotonic() - t0
                    slowest = max(slowest, took)
                    assert r.status_code == 503, (path, r.status_code, r.text[:200])
                    assert r.headers.get("retry-after"), path
                    assert r.json()["code"], path
                    assert took < DOWN_ANSWER_S, (path, took)
            assert client.get("/api/health/live").status_code == 200
            assert client.get("/api/health/ready").json()["checks"]["database"]["ok"] is False

            private_cluster.start()
            _wait_db(dsn)
            back = time.monotonic()
            while True:
                r = client.get("/api/cases?limit=1", headers=admin)
                if r.status_code == 200:
                    break
                assert r.status_code == 503, r.text[:200]
                assert time.monotonic() - back < RECOVERY_S, "not recovered within 5 s"
                time.sleep(0.05)
            recovery = time.monotonic() - back
            # every request after the first success succeeds: no dead connection is handed out
            for _ in range(15):
                for method, path, headers in routes[:2]:
                    r = client.request(method, path, headers=headers)
                    assert r.status_code == 200, (path, r.status_code, r.text[:200])
            assert client.get("/api/health/ready").status_code == 200
        print(f"\noutage: slowest 503 {slowest * 1000:.0f} ms; recovery {recovery:.2f} s after the database accepted connections")
    finally:
        if not private_cluster.running():
            private_cluster.start()
        proc.terminate()
        proc.wait(10)
