"""District exchange (多网融合) against a fake district on loopback (civicgrid.exchange.testing):
the outbox written with each case change, delivered exactly once per idempotency key and in order per
case through 500s, timeouts and lost replies (409 on the re-send), a worker killed with SIGKILL
mid-batch, dead letters re-sent by an admin, signed JSON per the mapping file, Open311 as the second
adapter, the district's inbound 督办 on the case, monitoring."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from databases import REPO, drop_database, migrated_database

from civicgrid.cases import replay, testing
from civicgrid.db import connect
from civicgrid.exchange import adapters, outbox
from civicgrid.exchange.testing import FakeDistrict

SECRET = "s3cret-hmac-key"


@pytest.fixture(scope="module")
def town(pg_admin_url, tmp_path_factory):
    """The tiny town on a fresh database and the app in-process, with callers per role."""
    from civicgrid.cases.fixtures import CasesClient
    from civicgrid.testing import app_client

    url = migrated_database(pg_admin_url)
    with connect(url) as conn:
        built = testing.build_town(conn)
    with app_client(url, tmp_path_factory.mktemp("exchange")) as client:
        yield CasesClient(client, url, built, client.creds)
    drop_database(pg_admin_url, url)


def settings_for(url, district, **extra):
    return SimpleNamespace(dsn=url, district_max_attempts=extra.get("max_attempts", 8), district_backoff=0.01,
                           district_backoff_max=0.02, district_timeout=0.3)


def json_adapter(fake, timeout=0.3):
    return adapters.JsonAdapter(fake.url + "/events", adapters.load_mapping(adapters.MAPPINGS / "default.yml"),
                                SECRET, "district-key-for-us", timeout)


def drain_all(url, adapter, settings, seconds=20.0):
    """Deliver until nothing is pending (waiting out the short test backoff)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outbox.drain(url, adapter, settings)
        with connect(url) as conn:
            # rows held back behind a dead letter of their case wait for its re-send
            left = conn.execute("SELECT count(*) AS n FROM district_outbox o WHERE state IN ('pending', 'delivering') "
                                "AND NOT EXISTS (SELECT 1 FROM district_outbox d WHERE d.case_id = o.case_id "
                                "AND d.state = 'dead')").fetchone()["n"]
        if not left:
            return
        time.sleep(0.02)
    raise AssertionError(f"{left} outbox rows still pending")


def clear_outbox(url):
    with connect(url) as conn:
        conn.execute("UPDATE district_outbox SET state = 'delivered', delivered_at = now() WHERE state <> 'delivered'")


def make_cases(town, n, steps=("file", "urge")):
    ids = []
    for i in range(n):
        cid = town.make_case(lon=116.605 + i * 1e-4)["id"]
        for action in steps:
            extra = {"comment": "请尽快处理"} if action == "urge" else {}
            assert town.act(cid, action, "shift_leader" if action == "file" else "dispatcher", **extra).status_code == 200
        ids.append(cid)
    return ids


def outbox_keys(url, case_ids):
    with connect(url) as conn:
        return conn.execute("SELECT case_id, event_seq, idempotency_key, state FROM district_outbox "
                            "WHERE case_id = ANY(%s) ORDER BY case_id, event_seq", [case_ids]).fetchall()


def assert_once_in_order(fake, rows):
    keys = fake.keys()
    assert all(fake.counts[r["idempotency_key"]] == 1 for r in rows), fake.counts
    assert {r["idempotency_key"] for r in rows} <= set(keys)
    position = {k: i for i, k in enumerate(keys)}
    by_case: dict = {}
    for r in rows:
        by_case.setdefault(r["case_id"], []).append(position[r["idempotency_key"]])
    for case_id, positions in by_case.items():
        assert positions == sorted(positions), f"case {case_id} delivered out of order"


def test_outbox_written_with_the_change_and_delivered_once_in_order(town):
    clear_outbox(town.url)
    ids = make_cases(town, 3)
    rows = outbox_keys(town.url, ids)
    assert len(rows) == 9 and {r["state"] for r in rows} == {"pending"}
    with connect(town.url) as conn:
        kinds = [r["kind"] for r in conn.execute(
            "SELECT kind FROM district_outbox WHERE case_id = %s ORDER BY event_seq", [ids[0]])]
        assert kinds == ["case.reported", "case.state_changed", "case.event"]
        # a refused change writes nothing: the outbox row rolls back with it
        before = conn.execute("SELECT count(*) AS n FROM district_outbox").fetchone()["n"]
    assert town.act(ids[0], "file", "shift_leader").status_code == 409
    with connect(town.url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM district_outbox").fetchone()["n"] == before
    detail = town.client.get(f"/api/cases/{ids[0]}", headers=town.headers("shift_leader")).json()
    assert detail["district"]["state"] == "pending" and detail["district"]["pending"] == 3

    with FakeDistrict(secret=SECRET) as fake:
        fake.fail_first = 4                                   # 500 × 4
        fake.timeout_keys = {rows[1]["idempotency_key"]}      # a timeout
        fake.fail_after_accept = {rows[4]["idempotency_key"]}  # accepted, reply lost → 409 on the re-send
        drain_all(town.url, json_adapter(fake), settings_for(town.url, fake))
        assert_once_in_order(fake, rows)
        assert fake.bad_signatures == 0
        first = next(a for a in fake.accepted if a["key"] == rows[0]["idempotency_key"])["body"]
    # the mapping file's document
    assert first["messageType"] == "CASE_REPORTED" and first["messageId"] == rows[0]["idempotency_key"]
    assert first["case"]["caseNo"] and first["case"]["location"]["crs"] == "EPSG:4490"
    assert first["event"]["sequence"] == 1 and first["case"]["status"] == "reported"
    with connect(town.url) as conn:
        states = conn.execute("SELECT state, attempts FROM district_outbox WHERE case_id = ANY(%s)", [ids]).fetchall()
        assert {s["state"] for s in states} == {"delivered"} and max(s["attempts"] for s in states) >= 2
    detail = town.client.get(f"/api/cases/{ids[1]}", headers=town.headers("shift_leader")).json()
    assert detail["district"]["state"] == "delivered" and detail["district"]["delivered"] == 3
    status = town.client.get("/api/exchange/status", headers=town.headers("admin")).json()
    assert status["pending"] == 0 and status["dead"] == 0 and status["failed_attempts"] >= 5
    assert status["on_time_rate"] == 1.0 and status["lag_p95_s"] is not None
    page = town.client.get("/metrics", headers=town.headers("admin"))
    assert page.status_code == 200, page.text
    assert 'civicgrid_district_outbox{state="dead"} 0.0' in page.text and "civicgrid_district_outbox_lag_seconds" in page.text


def test_dead_letter_holds_its_case_until_an_admin_resends_it(town):
    clear_outbox(town.url)
    ids = make_cases(town, 2, steps=("file",))
    rows = outbox_keys(town.url, ids)
    bad = rows[0]["idempotency_key"]                         # the first case's report
    with FakeDistrict(secret=SECRET) as fake:
        fake.reject_keys = {bad}
        drain_all(town.url, json_adapter(fake), settings_for(town.url, fake))
        assert bad not in fake.counts
        assert fake.keys() == [r["idempotency_key"] for r in rows if r["case_id"] == ids[1]]   # the other case flows
        detail = town.client.get(f"/api/cases/{ids[0]}", headers=town.headers("shift_leader")).json()["district"]
        assert detail["state"] == "dead" and detail["dead"] == 1 and detail["pending"] == 1
        assert "HTTP 400" in detail["last_error"]
        dead = town.client.get("/api/exchange/outbox?state=dead", headers=town.headers("admin")).json()["items"]
        assert [d["idempotency_key"] for d in dead] == [bad]
        # only admins re-send; bad input names the field
        assert town.client.post("/api/exchange/outbox/resend", json={"case_id": ids[0]},
                                headers=town.headers("dispatcher")).status_code == 403
        r = town.client.post("/api/exchange/outbox/resend", json={}, headers=town.headers("admin"))
        assert r.status_code == 400 and r.json()["field"] == "body"
        fake.reject_keys = set()                              # the district fixed its side
        r = town.client.post("/api/exchange/outbox/resend", json={"ids": [dead[0]["id"]]}, headers=town.headers("admin"))
        assert r.status_code == 200 and r.json()["resent"] == [dead[0]["id"]]
        assert town.client.post("/api/exchange/outbox/resend", json={"ids": [dead[0]["id"]]},
                                headers=town.headers("admin")).status_code == 409
        drain_all(town.url, json_adapter(fake), settings_for(town.url, fake))
        assert_once_in_order(fake, rows)
    with connect(town.url) as conn:
        assert conn.execute("SELECT resent_by FROM district_outbox WHERE id = %s", [dead[0]["id"]]).fetchone()["resent_by"]


def test_worker_killed_mid_batch_delivers_everything_once_after_restart(town, tmp_path):
    clear_outbox(town.url)
    ids = make_cases(town, 4, steps=())
    with connect(town.url) as conn:   # a backlog of 120 more events on those cases, in one go
        conn.execute("INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, data) "
                     "SELECT c.id, 1 + s, 'note', c.state, c.state, 'tester', 'shift_leader', '{}' "
                     "FROM cases c, generate_series(1, 30) s WHERE c.id = ANY(%s)", [ids])
    rows = outbox_keys(town.url, ids)
    assert len(rows) == 124
    with FakeDistrict() as fake:
        fake.delay_s = 0.01
        env = {**os.environ, "DATABASE_URL": town.url, "CIVICGRID_DISTRICT_URL": fake.url + "/events",
               "CIVICGRID_DISTRICT_TIMEOUT": "2"}
        cmd = [sys.executable, "-m", "civicgrid.cli", "exchange", "worker"]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while len(fake.accepted) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(fake.accepted) >= 20
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        got = len(fake.accepted)
        assert got < len(rows), "the kill came too late to test anything"
        fake.delay_s = 0
        proc = subprocess.run([*cmd, "--once"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert_once_in_order(fake, rows)
        assert len(fake.accepted) == len(rows)
    with connect(town.url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM district_outbox WHERE case_id = ANY(%s) AND state <> 'delivered'",
                            [ids]).fetchone()["n"] == 0


def test_open311_adapter_reports_then_updates_with_the_districts_request_id(town):
    clear_outbox(town.url)
    make_cases(town, 1, steps=("file",))
    mapping = adapters.load_mapping(adapters.MAPPINGS / "open311.yml")
    with FakeDistrict() as fake:
        adapter = adapters.Open311Adapter(fake.url + "/open311/v2", mapping, "our-key", "renhe.shunyi", 2)
        drain_all(town.url, adapter, settings_for(town.url, fake))
        first, second = fake.accepted
    assert first["path"].endswith("/requests.json") and first["body"]["service_code"] == "06010"
    assert first["body"]["api_key"] == "our-key" and first["body"]["jurisdiction_id"] == "renhe.shunyi"
    assert second["path"].endswith("/servicerequestupdates.json")
    assert second["body"]["service_request_id"] == "1001" and second["body"]["status"] == "OPEN"
    assert second["body"]["attribute[state]"] == "filed"


def test_inbound_supervision_from_the_district_lands_on_the_case(town):
    ids = make_cases(town, 1, steps=("file",))
    cid = ids[0]
    number = town.client.get(f"/api/cases/{cid}", headers=town.headers("shift_leader")).json()["case_number"]
    with connect(town.url) as conn:
        outbox_before = conn.execute("SELECT count(*) AS n FROM district_outbox").fetchone()["n"]
    msg = {"message_id": "SY-DB-0001", "type": "supervise", "case_number": number, "comment": "区平台督办：请加快处置",
           "data": {"deadline_at": "2026-12-31T17:00:00+08:00"}}
    district = town.headers("district_platform")
    r = town.client.post("/api/exchange/inbound", json=msg, headers=district)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["duplicate"] is False and first["case_id"] == cid
    again = town.client.post("/api/exchange/inbound", json=msg, headers=district).json()
    assert again["duplicate"] is True and again["event_seq"] == first["event_seq"]
    detail = town.client.get(f"/api/cases/{cid}", headers=town.headers("leader")).json()
    assert detail["supervise_count"] == 1
    events = [e for e in detail["timeline"] if e["action"] == "district_supervise"]
    assert len(events) == 1 and events[0]["comment"] == "区平台督办：请加快处置"
    assert events[0]["actor_role"] == "district_platform"
    with connect(town.url) as conn:
        assert replay.verify(conn, cid) == []
        # the district's own instruction is not echoed back to it
        assert conn.execute("SELECT count(*) AS n FROM district_outbox").fetchone()["n"] == outbox_before
    # a 回访 result needs its satisfaction; unknown cases and other callers are refused
    r = town.client.post("/api/exchange/inbound", json={"message_id": "SY-HF-1", "type": "visit_result",
                                                        "case_number": number}, headers=district)
    assert r.status_code == 400 and r.json()["field"] == "body"
    ok = town.client.post("/api/exchange/inbound", json={"message_id": "SY-HF-1", "type": "visit_result",
                                                         "case_number": number, "data": {"satisfaction": "satisfied"}},
                          headers=district)
    assert ok.status_code == 200
    r = town.client.post("/api/exchange/inbound", json={**msg, "message_id": "SY-DB-2", "case_number": "1" * 21},
                         headers=district)
    assert r.status_code == 404 and r.json()["field"] == "case_number"
    assert town.client.post("/api/exchange/inbound", json=msg, headers=town.headers("shift_leader")).status_code == 403


def test_open311_as_its_clients_expect(town):
    c = town.client
    disc = c.get("/api/open311/discovery.json").json()
    assert disc["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert c.get("/api/open311/discovery.xml").text.count("<format>") == 2
    xml = c.get("/api/open311/v2/services/06010.xml").text
    assert "<service_definition><service_code>06010</service_code><attributes" in xml
    key = town.credentials.token("district_platform", "sy-open311")
    r = c.post("/api/open311/v2/requests.json", data={"service_code": "06010", "lat": "40.12", "long": "116.605",
                                                      "api_key": key, "jurisdiction_id": "renhe"})
    assert r.status_code == 201, r.text
    sid = r.json()[0]["service_request_id"]
    r = c.post("/api/open311/v2/requests.json", data={"service_code": "06010", "lat": "40.12", "long": "116.605",
                                                      "api_key": "cg_nope_bad"})
    assert r.status_code == 403 and r.json()[0]["field"] == "api_key"
    r = c.post("/api/open311/v2/requests.json", data={"service_code": "06010", "lat": "40.12", "long": "500"})
    assert r.status_code == 400 and r.json()[0]["field"] == "long", r.text
    # extra parameters tolerated, date-only windows as local days, pagination, one timestamp format
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    r = c.get("/api/open311/v2/requests.json", params={"api_key": key, "jurisdiction_id": "renhe", "start_date": today,
                                                       "end_date": today, "page": 1, "page_size": 500, "radius": 100})
    assert r.status_code == 200, r.text
    found = [x for x in r.json() if x["service_request_id"] == sid]
    assert found and found[0]["requested_datetime"].endswith("+08:00") and "." not in found[0]["requested_datetime"]
    one = c.get("/api/open311/v2/requests.json", params={"start_date": today, "page_size": 1}).json()
    two = c.get("/api/open311/v2/requests.json", params={"start_date": today, "page_size": 1, "page": 2}).json()
    assert len(one) == len(two) == 1 and one[0]["service_request_id"] != two[0]["service_request_id"]
    r = c.get("/api/open311/v2/requests.json", params={"page_size": 5000})
    assert r.status_code == 400 and r.json()[0]["field"] == "page_size"
