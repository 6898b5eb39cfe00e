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
