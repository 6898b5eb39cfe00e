"""Ownership of OGC API Processes jobs: a job's status, result and dismissal belong to the
user who started it and to admins; for anybody else the job does not exist.

Manager level (the principal set with set_principal, as the access middleware does), then once
through HTTP with API keys against `civicgrid serve`, which also proves that the request's principal
reaches the job manager inside pygeoapi's handler threads.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta, timezone

import httpx
import pytest
from jobs_fixtures import manager
from pygeoapi.process.base import JobNotFoundError
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode

from civicgrid.db import connect
from civicgrid.security.principal import ANONYMOUS, SYSTEM, Principal, reset_principal, set_principal

CST = timezone(timedelta(hours=8))
ASYNC = RequestedProcessExecutionMode.respond_async
ALICE = Principal(user="alice", roles=frozenset({"dispatcher"}), user_id=1, via="session")
BOB = Principal(user="bob", roles=frozenset({"leader"}), user_id=2, via="key", scopes=frozenset({"read", "write"}))
ROOT = Principal(user="root", roles=frozenset({"admin"}), user_id=3, via="session")
UNKNOWN = "00000000-0000-4000-8000-000000000000"
HEATMAP = {"source": "cases", "cell_size": 100}


@pytest.fixture
def m(db):
    with connect(db) as conn:
        conn.execute("DELETE FROM process_job")
        conn.commit()
    return manager(db)


@contextmanager
def acting_as(principal: Principal):
    token = set_principal(principal)
    try:
        yield
    finally:
        reset_principal(token)


def owners(url) -> dict[str, str | None]:
    with connect(url) as conn:
        return {r["identifier"]: r["owner"] for r in conn.execute("SELECT identifier, owner FROM process_job")}


def refusal(call) -> tuple:
    with pytest.raises(JobNotFoundError) as err:
        call()
    return type(err.value), err.value.args


def wait_done(m, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = m.get_job(job_id)
        if job["status"] in ("successful", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']}")


def test_foreign_jobs_look_exactly_like_unknown_ones(m, db):
    with acting_as(ALICE):
        sync_id, _, _, status, _ = m.execute_process("heatmap", HEATMAP)
        assert status == JobStatus.successful
        async_id, _, _, status, _ = m.execute_process("heatmap", HEATMAP, execution_mode=ASYNC)
        assert status == JobStatus.accepted
        assert wait_done(m, async_id)["status"] == "successful"
    # the owner is recorded in the request; the runner process (SYSTEM) does not change it
    assert owners(db) == {sync_id: "alice", async_id: "alice"}

    with acting_as(BOB):
        unknown = refusal(lambda: m.get_job(UNKNOWN))
        for job_id in (sync_id, async_id):
            for call in (m.get_job, m.get_job_result, m.delete_job):
                got = refusal(lambda: call(job_id))  # noqa: B023 — called at once
                assert got == unknown == (JobNotFoundError, ())
        assert m.get_jobs() == {"jobs": [], "numberMatched": 0}
    assert owners(db) == {sync_id: "alice", async_id: "alice"}       # bob's dismissals removed nothing

    for who in (ALICE, ROOT, SYSTEM):
        with acting_as(who):
            for job_id in (sync_id, async_id):
                assert m.get_job(job_id)["status"] == "successful"
                assert m.get_job_result(job_id)[0] == "application/geo+json"
            assert {j["identifier"] for j in m.get_jobs()["jobs"]} == {sync_id, async_id}

    with acting_as(ALICE):
        assert m.delete_job(sync_id)
    with acting_as(ROOT):           # an admin may dismiss anybody's job
        assert m.delete_job(async_id)
    assert owners(db) == {}


def test_listing_counts_and_pages_only_own_jobs(m, db):
    made: dict[str, list[str]] = {}
    for who, n in ((ALICE, 5), (BOB, 3), (ROOT, 1)):
        with acting_as(who):
            made[who.user] = [m.execute_process("heatmap", HEATMAP)[0] for _ in range(n)]
    with acting_as(SYSTEM):         # off-request (CLI, tests): no owner
        made["system"] = [m.execute_process("heatmap", HEATMAP)[0]]
    assert owners(db)[made["system"][0]] is None

    with acting_as(ALICE):
        seen, offset = [], 0
        while True:
            page = m.get_jobs(limit=2, offset=offset)
            assert page["numberMatched"] == 5          # the same on every page, past the end too
            if not page["jobs"]:
                break
            assert len(page["jobs"]) <= 2
            seen += [j["identifier"] for j in page["jobs"]]
            offset += 2
        assert offset == 6 and sorted(seen) == sorted(made["alice"]) and len(set(seen)) == 5
        assert m.get_jobs(status=JobStatus.successful, limit=10)["numberMatched"] == 5
        assert m.get_jobs(status=JobStatus.failed, limit=10) == {"jobs": [], "numberMatched": 0}
    with acting_as(BOB):
        page = m.get_jobs(limit=10, offset=0)
        assert page["numberMatched"] == 3 and sorted(j["identifier"] for j in page["jobs"]) == sorted(made["bob"])
    for who in (ROOT, SYSTEM):
        with acting_as(who):
            page = m.get_jobs(limit=100, offset=0)
            assert page["numberMatched"] == 10 and len(page["jobs"]) == 10
            assert m.get_jobs(limit=3, offset=9)["numberMatched"] == 10


def test_anonymous_callers_own_nothing(m, db):
    """Should a rule ever let the public run a process: its job has no owner, so no anonymous
    caller sees it (they would all share one name) — the synchronous answer is all they get."""
    with acting_as(ANONYMOUS):
        job_id, _, outputs, status, _ = m.execute_process("heatmap", HEATMAP)
        assert status == JobStatus.successful and outputs
        assert refusal(lambda: m.get_job(job_id)) == refusal(lambda: m.get_job(UNKNOWN))
        assert m.get_jobs()["numberMatched"] == 0
    assert owners(db) == {job_id: None}
    with acting_as(ROOT):
        assert m.get_job(job_id)["status"] == "successful"


# ---------------------------------------------------------------- through HTTP, with the access layer

@pytest.fixture(scope="module")
def http(db):
    from databases import start_server

    from civicgrid.security.identity import add_user, create_key

    tokens = {}
    with connect(db) as conn:
        for name, role in (("alice", "dispatcher"), ("bob", "leader"), ("root", "admin")):
            add_user(conn, name, [role])
            tokens[name] = create_key(conn, name, ["read", "write"], 1)["token"]
        conn.commit()
    proc, base = start_server(db)
    clients = {name: httpx.Client(base_url=base + "/ogc", headers={"Authorization": f"Bearer {t}"}, timeout=60)
               for name, t in tokens.items()}
    yield clients
    for c in clients.values():
        c.close()
    proc.terminate()
    proc.wait(10)


def test_http_foreign_job_is_a_404_identical_to_an_unknown_id(http, db):
    alice, bob, root = http["alice"], http["bob"], http["root"]
    r = alice.post("/processes/heatmap/execution", json={"inputs": HEATMAP}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    job_id = r.json()["jobID"]
    # recorded with alice as owner: the principal reached the manager in pygeoapi's worker thread
    assert owners(db)[job_id] == "alice"
    deadline = time.time() + 60
    while (status := alice.get(f"/jobs/{job_id}?f=json").json()["status"]) not in ("successful", "failed"):
        assert time.time() < deadline
        time.sleep(0.2)
    assert status == "successful"
    assert alice.get(f"/jobs/{job_id}/results?f=json").status_code == 200
    # a job whose runner died before it started has no `started`: the listing still works (was a 500)
    with connect(db) as conn:
        conn.execute("INSERT INTO process_job (identifier, process_id, status, owner) "
                     "VALUES ('never-started', 'heatmap', 'failed', 'alice')")
        conn.commit()
    listed = alice.get("/jobs?f=json")
    assert listed.status_code == 200, listed.text
    assert [j["jobID"] for j in listed.json()["jobs"]] == ["never-started", job_id]
    assert alice.delete("/jobs/never-started").status_code == 200

    for path, method in (("/jobs/{}?f=json", "GET"), ("/jobs/{}?f=html", "GET"), ("/jobs/{}", "GET"),
                         ("/jobs/{}/results?f=json", "GET"), ("/jobs/{}", "DELETE")):
        foreign = bob.request(method, path.format(job_id))
        unknown = bob.request(method, path.format(UNKNOWN))
        assert foreign.status_code == unknown.status_code == 404, (method, path, foreign.text)
        assert foreign.content.replace(job_id.encode(), UNKNOWN.encode()) == unknown.content
        drop = {"date", "content-length", "x-request-id"}  # the id is per request by design
        assert {k: v for k, v in foreign.headers.items() if k not in drop} == \
               {k: v for k, v in unknown.headers.items() if k not in drop}
    assert job_id not in {j["jobID"] for j in bob.get("/jobs?f=json").json()["jobs"]}
    assert owners(db)[job_id] == "alice"            # bob's DELETE left it alone

    assert root.get(f"/jobs/{job_id}?f=json").json()["status"] == "successful"
    assert job_id in {j["jobID"] for j in root.get("/jobs?f=json&limit=100").json()["jobs"]}
    r = alice.delete(f"/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert job_id not in owners(db)
