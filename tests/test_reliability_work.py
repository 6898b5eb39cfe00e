"""Bounded work: a process estimates its cost and refuses above its limit (sync or async) with the
number; runs have time limits and a job stopped by one ends `failed` with the reason; async jobs
wait in a queue in PostgreSQL with at most CIVICGRID_JOB_CONCURRENCY running, and a user may have
only so many waiting or running."""
from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from jobs_fixtures import manager
from pygeoapi.util import RequestedProcessExecutionMode

from civicgrid.db import connect
from civicgrid.processes import REGISTRY
from civicgrid.processes.base import CivicProcessor, Params, TimeLimitExceeded, TooCostly, TooManyJobs
from civicgrid.security.principal import Principal, reset_principal, set_principal
from civicgrid.security.testing import Credentials

ASYNC = RequestedProcessExecutionMode.respond_async
RUNAWAY = {"source": "cases", "units": "cells", "cell_size": 50, "neighbours": "distance", "distance": 20000}


def test_a_runaway_hotspots_request_is_refused_fast(live_server, demo_url):
    """It used to build every pair of 17,115 cells in a Python list (18 GB)."""
    admin = Credentials(demo_url).headers("admin")
    for prefer in ({}, {"Prefer": "respond-async"}):
        t0 = time.monotonic()
        r = httpx.post(f"{live_server}/ogc/processes/hotspots/execution", json={"inputs": RUNAWAY},
                       headers={**admin, **prefer}, timeout=30)
        took = time.monotonic() - t0
        assert r.status_code == 400, r.text[:300]
        doc = r.json()
        assert "neighbour pairs" in doc["description"] and "2,000,000" in doc["description"], doc
        assert doc["code"] == "TooCostly" and doc["field"] == "distance" and doc["measure"] == "neighbour pairs"
        assert doc["limit"] == 2_000_000 < doc["estimate"], doc
        assert took < 3, took
    # the same analysis with a sensible band still runs
    r = httpx.post(f"{live_server}/ogc/processes/hotspots/execution",
                   json={"inputs": {**RUNAWAY, "cell_size": 500, "distance": 1000}}, headers=admin, timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_cost_estimates_name_the_input_to_change(db, monkeypatch):
    """The processes' small town is too small for the real limits: lower them to see the refusals."""
    from civicgrid.processes.hotspots import HotspotsProcessor

    m = manager(db)
    with connect(db) as conn:
        cost = HotspotsProcessor().cost(HotspotsProcessor.Params.model_validate(RUNAWAY), conn)
    cells, pairs = cost["cells"][0], cost["neighbour pairs"][0]
    assert 0 < cells and cells * (cells - 1) / 2 * 0.9 <= pairs <= cells * cells / 2   # the band covers the town
    monkeypatch.setattr(HotspotsProcessor, "cost_limits", {"cells": 10**9, "neighbour pairs": pairs - 1})
    with pytest.raises(TooCostly) as err:
        m.execute_process("hotspots", RUNAWAY, execution_mode=ASYNC)
    assert err.value.http_status_code == 400 and err.value.field == "distance"
    assert f"{pairs:,}" in err.value.message
    monkeypatch.setattr(HotspotsProcessor, "cost_limits", {"cells": cells - 1})
    with pytest.raises(TooCostly) as err:
        m.execute_process("hotspots", {**RUNAWAY, "neighbours": "queen"})
    assert err.value.field == "cell_size"
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) AS n FROM process_job WHERE process_id = 'hotspots'").fetchone()["n"] == 0


def _running(url) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) AS n FROM process_job WHERE status = 'running'").fetchone()["n"]


def test_async_jobs_queue_with_at_most_two_running(db):
    m = manager(db)
    ids = [m.execute_process("heatmap", {"source": "cases", "cell_size": 100 + k}, execution_mode=ASYNC)[0]
           for k in range(20)]
    most, done = 0, False
    deadline = time.monotonic() + 120
    while not done and time.monotonic() < deadline:
        most = max(most, _running(db))
        with connect(db) as conn:
            states = [r["status"] for r in conn.execute(
                "SELECT status FROM process_job WHERE identifier = ANY(%s)", [ids]).fetchall()]
        done = all(s in ("successful", "failed") for s in states)
        time.sleep(0.02)
    assert done, states
    assert set(states) == {"successful"}
    assert 1 <= most <= 2, most


def test_a_user_may_queue_only_so_many_jobs(db, monkeypatch):
    from civicgrid.settings import get_settings

    monkeypatch.setenv("CIVICGRID_JOB_QUEUE_PER_USER", "3")
    get_settings.cache_clear()
    user = f"t.queue.{uuid.uuid4().hex[:6]}"
    with connect(db, autocommit=True) as conn:
        for _ in range(3):   # waiting jobs of this user (no runner picks them: other process id)
            conn.execute("INSERT INTO process_job (identifier, process_id, status, owner) "
                         "VALUES (%s, 'waiting-test', 'running', %s)", [str(uuid.uuid4()), user])
    token = set_principal(Principal(user=user, roles=frozenset({"dispatcher"}), via="key"))
    try:
        with pytest.raises(TooManyJobs) as err:
            manager(db).execute_process("heatmap", {"source": "cases"}, execution_mode=ASYNC)
        assert err.value.http_status_code == 429 and "3" in err.value.message
    finally:
        reset_principal(token)
        get_settings.cache_clear()
        with connect(db, autocommit=True) as conn:
            conn.execute("DELETE FROM process_job WHERE owner = %s", [user])


class SlowProcessor(CivicProcessor):
    """A process that takes its time: in the database, or in Python."""

    id = "slow-test"
    title = description = {"en": "slow"}
    Params = Params
    outputs = {"x": {"title": "x", "schema": {"type": "object"}}}
    python = False

    def run(self, params, conn):
        if self.python:
            time.sleep(30)
        else:
            conn.execute("SELECT pg_sleep(30)")
        return "application/json", {}


def _job(url) -> str:
    job_id = str(uuid.uuid4())
    with connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO process_job (identifier, process_id, status) VALUES (%s, 'slow-test', 'running')",
                     [job_id])
    return job_id


def _status(url, job_id) -> tuple[str, str]:
    with connect(url) as conn:
        row = conn.execute("SELECT status, message FROM process_job WHERE identifier = %s", [job_id]).fetchone()
    return row["status"], row["message"]


def test_a_run_past_its_time_limit_is_cancelled_and_fails(db):
    from civicgrid.processes.jobs import run_job

    job_id = _job(db)
    t0 = time.monotonic()
    with pytest.raises(TimeLimitExceeded) as err:
        run_job(SlowProcessor(), job_id, {}, db, time_limit_s=0.5)
    assert time.monotonic() - t0 < 5
    assert err.value.http_status_code == 503
    status, message = _status(db, job_id)
    assert status == "failed" and "time limit of 0.5 s" in message


def test_a_job_past_its_time_limit_in_python_fails(db, monkeypatch):
    from civicgrid.processes.runner import run_one

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("alarms need the main thread")
    monkeypatch.setenv("DATABASE_URL", db)
    from civicgrid.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setitem(REGISTRY, "slow-test", type("SlowPython", (SlowProcessor,), {"python": True}))
    job_id = _job(db)
    t0 = time.monotonic()
    try:
        run_one({"identifier": job_id, "process_id": "slow-test", "parameters": {}}, 1)
    finally:
        get_settings.cache_clear()
    assert time.monotonic() - t0 < 5
    status, message = _status(db, job_id)
    assert status == "failed" and "time limit of 1 s" in message


def test_cluster_estimates_its_neighbour_pairs(db, monkeypatch):
    from civicgrid.processes.cluster import ClusterProcessor

    with connect(db) as conn:
        small = ClusterProcessor().cost(ClusterProcessor.Params.model_validate({"eps": 10}), conn)
        large = ClusterProcessor().cost(ClusterProcessor.Params.model_validate({"eps": 2000}), conn)
    # six cases 10 m apart: every pair within 2 km (15), few within 10 m
    assert small["neighbour pairs"][0] < large["neighbour pairs"][0]
    assert 10 <= large["neighbour pairs"][0] <= 60
    monkeypatch.setattr(ClusterProcessor, "cost_limits", {"neighbour pairs": 5})
    with pytest.raises(TooCostly) as err:
        manager(db).execute_process("cluster", {"eps": 2000})
    assert err.value.field == "eps" and "neighbour pairs" in err.value.message


# every process, inputs within its bounds, and the measures it estimates
COSTED = {
    "heatmap": ({"source": "cases", "cell_size": 10}, {"rows", "cells"}),
    "cluster": ({"eps": 100}, {"rows", "neighbour pairs"}),
    "hotspots": ({"cell_size": 100}, {"rows", "cells", "neighbour pairs"}),
    "area-evaluation": ({"start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00"}, {"rows"}),
    "patrol-coverage": ({"start": "2026-03-01T00:00:00+08:00", "end": "2026-03-08T00:00:00+08:00"}, {"rows"}),
    "track": ({"officer": 1, "start": "2026-03-01T00:00:00+08:00", "end": "2026-03-08T00:00:00+08:00"}, {"rows"}),
}


@pytest.mark.parametrize("process_id", sorted(COSTED))
def test_every_process_estimates_its_cost_and_refuses_above_its_limits(db, process_id, monkeypatch):
    """Below the limits the estimates are reported; with the synchronous limit lowered under an
    estimate a sync request must go async (400 with the number and the limit), with the absolute
    limit lowered it is refused either way, and no job is written."""
    from civicgrid.processes.base import TooLargeForSync

    inputs, measures = COSTED[process_id]
    cls = REGISTRY[process_id]
    jobs = "SELECT count(*) AS n FROM process_job WHERE process_id = %s"
    with connect(db) as conn:
        found = cls().check_cost(cls.Params.model_validate(inputs), conn, sync=True)
        before = conn.execute(jobs, [process_id]).fetchone()["n"]
    assert set(found) == measures, found
    measure = max(found, key=lambda m: found[m])
    estimate = found[measure]
    monkeypatch.setattr(cls, "sync_cost_limits", {measure: estimate - 1})
    if process_id == "heatmap":
        monkeypatch.setattr(cls, "SYNC_LIMITS", {m: {measure: estimate - 1} for m in cls.SYNC_LIMITS})
    with pytest.raises(TooLargeForSync) as err:
        manager(db).execute_process(process_id, inputs)
    body = err.value.to_json()
    assert err.value.status == 400 and body["estimate"] == estimate and body["limit"] == estimate - 1, body
    assert "Prefer: respond-async" in body["description"] and body["field"] in inputs or body["field"] in cls.Params.model_fields
    monkeypatch.setattr(cls, "cost_limits", {**cls.cost_limits, measure: estimate - 1})
    with pytest.raises(TooCostly) as err:
        manager(db).execute_process(process_id, inputs, execution_mode=ASYNC)
    assert err.value.to_json()["limit"] == estimate - 1 and f"{estimate:,}" in err.value.message
    with connect(db) as conn:
        assert conn.execute(jobs, [process_id]).fetchone()["n"] == before


def test_limits_come_from_the_process_configuration(db):
    m = manager(db, track={"cost_limits": {"rows": 0}})
    with pytest.raises(TooCostly) as err:
        m.execute_process("track", COSTED["track"][0], execution_mode=ASYNC)
    assert err.value.field == "end" and err.value.limit == 0


def _backend_running(url, marker: str) -> list[int]:
    with connect(url) as conn:
        return [r["pid"] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
            [f"%{marker}%"]).fetchall()]


def test_a_sync_run_stops_when_its_client_disconnects(live_server, demo_url):
    """A hexagon heatmap of the demo's 120,000 officer positions in 20 m cells takes about 5 s (one
    ST_HexagonGrid per fix): the client drops its socket, and the backend's query is gone within
    two seconds; the job failed with the reason."""
    import json
    import socket
    from urllib.parse import urlsplit

    admin = Credentials(demo_url).headers("admin")
    body = json.dumps({"inputs": {"source": "positions", "method": "hexagon", "cell_size": 20}}).encode()
    host = urlsplit(live_server)
    head = ["POST /ogc/processes/heatmap/execution HTTP/1.1", f"Host: {host.netloc}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in admin.items()), "", ""]
    sock = socket.create_connection((host.hostname, host.port))
    sock.sendall("\r\n".join(head).encode() + body)
    deadline = time.monotonic() + 20
    while not (pids := _backend_running(demo_url, "ST_HexagonGrid")) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not pids:
        sock.settimeout(5)
        pytest.fail(f"the run's query never showed in pg_stat_activity; the answer: {sock.recv(2000)!r}")
    time.sleep(0.5)
    assert _backend_running(demo_url, "ST_HexagonGrid"), "the query ended by itself: too light for this test"
    sock.close()
    t0 = time.monotonic()
    while _backend_running(demo_url, "ST_HexagonGrid") and time.monotonic() - t0 < 5:
        time.sleep(0.05)
    gone_after = time.monotonic() - t0
    assert gone_after < 2, gone_after
    with connect(demo_url) as conn:
        row = conn.execute("SELECT status, message FROM process_job WHERE process_id = 'heatmap' "
                           "ORDER BY created DESC LIMIT 1").fetchone()
    assert row["status"] == "failed" and "client disconnected" in row["message"], row
    # the worker is free again: the next request is answered
    r = httpx.post(f"{live_server}/ogc/processes/heatmap/execution", json={"inputs": {"source": "cases"}},
                   headers=admin, timeout=30)
    assert r.status_code == 200, r.text[:300]
