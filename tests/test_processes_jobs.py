"""The PostgreSQL job manager: sync and async jobs, results that outlive the manager, refusals
that leave nothing behind, cancellation of a running job, and runners that died."""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import timedelta, timezone

import psycopg
import pytest
from jobs_fixtures import manager
from pygeoapi.process.base import JobNotFoundError
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode

from civicgrid.db import connect
from civicgrid.processes.base import InvalidProcessInput, TooLargeForSync

CST = timezone(timedelta(hours=8))
ASYNC = RequestedProcessExecutionMode.respond_async


def job_count(url):
    with connect(url) as conn:
        return conn.execute("SELECT count(*) AS n FROM process_job").fetchone()["n"]


def wait_for(m, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = m.get_job(job_id)
        if job["status"] in ("successful", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def test_sync_job_is_recorded(db):
    m = manager(db)
    job_id, mimetype, outputs, status, headers = m.execute_process("heatmap", {"source": "cases", "cell_size": 100})
    assert status == JobStatus.successful and mimetype == "application/geo+json"
    assert json.loads(outputs)["total"] == 6
    job = m.get_job(job_id)
    assert job["status"] == "successful" and job["parameters"]["cell_size"] == 100
    assert json.loads(m.get_job_result(job_id)[1])["total"] == 6


def test_bad_parameters_write_nothing(db):
    m = manager(db)
    before = job_count(db)
    with pytest.raises(InvalidProcessInput) as err:
        m.execute_process("cluster", {"eps": -1})
    assert err.value.http_status_code == 400 and err.value.message.startswith("eps:")
    with pytest.raises(InvalidProcessInput):
        m.execute_process("track", {"officer": 1}, execution_mode=ASYNC)
    assert job_count(db) == before


def test_too_large_for_sync_says_go_async(db):
    m = manager(db, heatmap={"sync_limit": 3})
    before = job_count(db)
    with pytest.raises(TooLargeForSync) as err:
        m.execute_process("heatmap", {"source": "cases"})
    assert err.value.http_status_code == 400 and "Prefer: respond-async" in err.value.message
    assert job_count(db) == before
    job_id, _, outputs, status, headers = m.execute_process("heatmap", {"source": "cases"}, execution_mode=ASYNC)
    assert status == JobStatus.accepted and outputs is None and headers["Preference-Applied"] == "respond-async"
    assert wait_for(m, job_id)["status"] == "successful"


def test_async_job_survives_a_new_manager(db):
    m = manager(db)
    job_id, _, _, status, _ = m.execute_process("area-evaluation", {
        "level": "community", "format": "csv", "start": "2026-03-01T00:00:00+08:00", "end": "2026-04-01T00:00:00+08:00"},
        execution_mode=ASYNC)
    assert status == JobStatus.accepted
    job = wait_for(m, job_id)
    assert job["status"] == "successful", job["message"]
    # a fresh manager (a restarted server) answers from the database alone
    again = manager(db)
    assert again.get_job(job_id)["status"] == "successful"
    mimetype, body = again.get_job_result(job_id)
    assert mimetype.startswith("text/csv") and body.decode("utf-8").lstrip("\ufeff").startswith("编码,名称,立案数")
    assert job_id in [j["identifier"] for j in again.get_jobs()["jobs"]]
    assert again.delete_job(job_id)
    with pytest.raises(JobNotFoundError):
        again.get_job(job_id)


def test_failed_async_job_keeps_its_message(db):
    m = manager(db)
    job_id, *_ = m.execute_process("track", {"officer": 999, "start": "2026-03-01T00:00:00+08:00",
                                             "end": "2026-03-02T00:00:00+08:00"}, execution_mode=ASYNC)
    job = wait_for(m, job_id)
    assert job["status"] == "failed" and "officer: no officer with id 999" in job["message"]
    assert m.get_job_result(job_id) == (None,)


def test_cancel_stops_the_runner_and_its_query(db):
    """A running job: its runner process and its database query both end when it is deleted."""
    m = manager(db)
    runner = subprocess.Popen(["sleep", "60"])
    query = psycopg.connect(db, autocommit=True)
    backend = query.execute("SELECT pg_backend_pid()").fetchone()[0]
    import threading

    outcome = {}

    def long_query():
        try:
            query.execute("SELECT pg_sleep(60)")
            outcome["result"] = "finished"
        except psycopg.errors.QueryCanceled:
            outcome["result"] = "cancelled"

    worker = threading.Thread(target=long_query)
    worker.start()
    with connect(db) as conn:
        conn.execute("INSERT INTO process_job (identifier, process_id, status, runner_host, runner_pid, backend_pid) "
                     "VALUES ('running-job', 'heatmap', 'running', %s, %s, %s)", [os.uname().nodename, runner.pid, backend])
        conn.commit()
    time.sleep(0.3)
    assert m.delete_job("running-job")
    worker.join(10)
    assert outcome.get("result") == "cancelled"
    assert runner.wait(10) != 0          # terminated by SIGTERM
    query.close()
    with pytest.raises(JobNotFoundError):
        m.get_job("running-job")


def test_a_dead_runner_fails_its_job(db):
    m = manager(db)
    gone = subprocess.Popen(["true"])
    gone.wait()
    with connect(db) as conn:
        conn.execute("INSERT INTO process_job (identifier, process_id, status, runner_host, runner_pid) "
                     "VALUES ('orphan', 'heatmap', 'running', %s, %s)", [os.uname().nodename, gone.pid])
        conn.commit()
    job = m.get_job("orphan")
    assert job["status"] == "failed" and "runner process stopped" in job["message"]
