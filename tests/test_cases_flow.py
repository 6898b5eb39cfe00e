"""Each shipped workflow end to end over HTTP, with the refusals (wrong role, missing field, closed
case, stale version), replay of events, append-only events, time limits, timers and the views."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest

from civicgrid.cases import replay, testing
from civicgrid.db import connect


def ok(r, state=None):
    assert r.status_code == 200, r.text
    if state:
        assert r.json()["state"] == state, r.json()
    return r.json()


def assert_replays(cc, *case_ids):
    with connect(cc.url) as conn:
        for cid in case_ids:
            assert replay.verify(conn, cid) == [], cid


def test_standard_seven_step_loop(cases_client):
    cc = cases_client
    case = cc.make_case()
    cid = case["id"]
    # wrong role, missing field, stale version, unknown action, action not possible now
    r = cc.act(cid, "file", "dispatcher")
    assert r.status_code == 403 and r.json()["field"] == "role" and "shift_leader" in r.json()["description"]
    r = cc.act(cid, "file", "shift_leader", version=7)
    assert r.status_code == 409 and r.json()["field"] == "version"
    r = cc.act(cid, "teleport", "shift_leader")
    assert r.status_code == 400 and r.json()["field"] == "action"
    r = cc.act(cid, "feedback", "department_handler")
    assert r.status_code == 409 and r.json()["field"] == "state"
    r = cc.client.post(f"/api/cases/{cid}/actions/file", json={}, headers=cc.headers("shift_leader"))
    assert r.status_code == 400 and r.json()["field"] == "version"

    ok(cc.act(cid, "file", "shift_leader", "SL-01"), "filed")
    detail = ok(cc.act(cid, "urge", "dispatcher", "DP-02", comment="请尽快派遣"))
    assert detail["urge_count"] == 1 and detail["state"] == "filed"
    d = ok(cc.act(cid, "dispatch", "dispatcher", "DP-02"), "dispatched")
    assert d["department_code"] == testing.DEPT_ENFORCE and d["deadline_at"] == d["step_deadline_at"]
    # the department says it is not theirs (退回), the dispatcher sends it to another one
    r = cc.act(cid, "return", "department_handler")
    assert r.status_code == 400 and r.json()["field"] == "comment"
    ok(cc.act(cid, "return", "department_handler", "DEPT-ENF", comment="非本部门职责"), "filed")
    ok(cc.act(cid, "dispatch", "dispatcher", data={"department_code": testing.DEPT_MUNICIPAL}), "dispatched")
    # 延期: the request alone does not move the deadline; approval does
    before = cc.client.get(f"/api/cases/{cid}", headers=cc.headers("leader")).json()["step_deadline_at"]
    r = cc.act(cid, "postpone_request", "department_handler", comment="需要采购材料")
    assert r.status_code == 400 and r.json()["field"] == "data.extend"
    pending = ok(cc.act(cid, "postpone_request", "department_handler", comment="需要采购材料", data={"extend": "2d"}))
    assert pending["postpone_pending"] and pending["step_deadline_at"] == before
    approved = ok(cc.act(cid, "postpone_approve", "leader", "LD-01"))
    assert not approved["postpone_pending"] and approved["step_deadline_at"] > before
    ok(cc.act(cid, "supervise", "leader", "LD-01", comment="督办：本周内完成"))
    # 反馈 needs photos, then 核查 fails → 返工, then passes → 结案
    r = cc.act(cid, "feedback", "department_handler", comment="已清理")
    assert r.status_code == 400 and r.json()["field"] == "photos"
    ok(cc.act(cid, "feedback", "department_handler", comment="已清理", photos=[cc.upload(11)]), "handled")
    r = cc.act(cid, "check_pass", "grid_officer", data={"verdict": "not_fixed"})
    assert r.status_code == 409 and r.json()["field"] == "guard"
    ok(cc.act(cid, "rework", "grid_officer", "GO-001", comment="仍有残留"), "dispatched")
    ok(cc.act(cid, "feedback", "department_handler", comment="二次清理", photos=[cc.upload(12)]), "handled")
    r = cc.act(cid, "check_pass", "grid_officer")
    assert r.status_code == 400 and r.json()["field"] == "data.verdict"
    closed = ok(cc.act(cid, "check_pass", "grid_officer", "GO-001", data={"verdict": "fixed"}), "closed")
    assert closed["is_closed"] and closed["closed_at"] and closed["rework_count"] == 1 and closed["supervise_count"] == 1
    # acting on a closed case
    r = cc.act(cid, "urge", "leader")
    assert r.status_code == 409 and r.json()["field"] == "state" and "closed" in r.json()["description"]
    timeline = cc.client.get(f"/api/cases/{cid}/timeline", headers=cc.headers("leader")).json()
    assert [e["action"] for e in timeline] == [
        "report", "file", "urge", "dispatch", "return", "dispatch", "postpone_request", "postpone_approve",
        "supervise", "feedback", "rework", "feedback", "check_pass"]
    assert timeline[-1]["actor"] == "go-001" and timeline[-1]["actor_role"] == "grid_officer"
    assert timeline[9]["attachments"][0]["url"].startswith("/api/attachments/")
    assert cc.client.get(f"/api/cases/{cid}/timeline").status_code == 401  # not for the public
    assert cc.client.get(f"/api/cases/{cid}/timeline", headers=cc.headers("district_platform")).status_code == 403
    assert_replays(cc, cid)


def test_public_report_verified_then_cancelled_suspend_and_merge(cases_client):
    cc = cases_client
    pub = cc.client.post("/api/cases", json={"channel": "public", "category_code": "09009", "lon": 116.61, "lat": 40.12},
                         headers=cc.headers("public")).json()
    assert pub["state"] == "verifying"
    tasks = cc.client.get(f"/api/officers/{pub['officer_id']}/tasks", headers=cc.headers("grid_officer")).json()
    assert [c["id"] for c in tasks["cases"]] == [pub["id"]]
    ok(cc.act(pub["id"], "verify", "grid_officer", data={"verdict": "not_found"}), "reported")
    ok(cc.act(pub["id"], "cancel", "shift_leader", comment="现场未发现"), "cancelled")
    other = cc.make_case(category_code="09009", lon=116.615)
    ok(cc.act(other["id"], "file", "shift_leader"), "filed")
    ok(cc.act(other["id"], "suspend", "shift_leader", comment="需区里协调"), "suspended")
    ok(cc.act(other["id"], "resume", "shift_leader"), "filed")
    assert_replays(cc, pub["id"], other["id"])


def test_component_case_is_dispatched_automatically(cases_client):
    cc = cases_client
    case = cc.client.post("/api/cases", json={"channel": "component", "component_id": testing.COMPONENT_ID},
                          headers=cc.headers("grid_officer")).json()
    d = ok(cc.act(case["id"], "file", "shift_leader"), "dispatched")
    assert d["department_code"] == testing.DEPT_MUNICIPAL and d["dispatched_at"]
    timeline = cc.client.get(f"/api/cases/{case['id']}/timeline", headers=cc.headers("leader")).json()
    assert [(e["action"], e["actor_role"]) for e in timeline][-2:] == [("file", "shift_leader"), ("dispatch", "system")]
    queue = cc.client.get(f"/api/departments/{testing.DEPT_MUNICIPAL}/queue",
                         headers=cc.headers("department_handler", department=testing.DEPT_MUNICIPAL)).json()
    assert [c["id"] for c in queue["cases"]] == [case["id"]]
    assert {a["action"] for a in queue["cases"][0]["actions"]} >= {"feedback", "return", "postpone_request"}
    assert_replays(cc, case["id"])


def test_self_handling_flow(cases_client):
    cc = cases_client
    case = cc.client.post("/api/cases", json=cc.self_handled_payload(), headers=cc.headers("grid_officer", "GO-001")).json()
    assert case["workflow"] == "self_handling" and case["state"] == "self_reported"
    r = cc.act(case["id"], "verify", "grid_officer", data={"verdict": "confirmed"})
    assert r.status_code == 403
    done = ok(cc.act(case["id"], "verify", "intake_operator", data={"verdict": "confirmed"}), "closed")
    assert done["is_closed"] and done["self_handled"]
    roles = {a["role"] for a in cc.client.get(f"/api/cases/{case['id']}/timeline", headers=cc.headers("leader")).json()[0]["attachments"]}
    assert roles == {"before", "after"}
    assert_replays(cc, case["id"])


def test_hotline_flow_with_unsatisfied_revisit(cases_client):
    cc = cases_client
    case = cc.client.post("/api/cases", json={"channel": "hotline", "category_code": "06028", "address": "仁和镇人民政府北侧",
                                              "external_id": "12345-77"}, headers=cc.headers("intake_operator")).json()
    cid = case["id"]
    ok(cc.act(cid, "accept", "intake_operator"), "accepted")
    ok(cc.act(cid, "dispatch", "dispatcher"), "dispatched")
    ok(cc.act(cid, "feedback", "department_handler", comment="已劝导"), "handled")
    ok(cc.act(cid, "reply", "intake_operator", comment="已电话答复"), "replied")
    again = ok(cc.act(cid, "revisit", "intake_operator", data={"satisfaction": "unsatisfied"}), "dispatched")
    assert again["rework_count"] == 1
    ok(cc.act(cid, "feedback", "department_handler", comment="再次处理"), "handled")
    ok(cc.act(cid, "reply", "intake_operator", comment="再次答复"), "replied")
    r = cc.act(cid, "revisit", "intake_operator", data={"satisfaction": "so-so"})
    assert r.status_code == 400 and r.json()["field"] == "data.satisfaction"
    ok(cc.act(cid, "revisit", "intake_operator", data={"satisfaction": "satisfied"}), "closed")
    assert_replays(cc, cid)


def test_events_are_append_only(cases_client):
    case = cases_client.make_case()
    with connect(cases_client.url) as conn:
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("UPDATE case_event SET comment = 'x' WHERE case_id = %s", [case["id"]])
    with connect(cases_client.url) as conn:
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("DELETE FROM case_event WHERE case_id = %s", [case["id"]])


def test_deadlines_timers_overdue_and_overview(cases_client):
    cc = cases_client
    # a round-the-clock calendar and a 1.2-second limit make the timers due at once
    with connect(cc.url) as conn:
        conn.execute("UPDATE work_calendar SET periods = '[[\"00:00\", \"23:59:59.999\"]]'")
        today = datetime.now(timezone.utc).date()
        conn.execute("INSERT INTO calendar_override SELECT d::date, true, 'test' FROM "
                     "generate_series(%s::date - 1, %s::date + 2, '1 day') d", [today, today])
    cc.client.app.state.civicgrid.cases.forget_calendar()
    d = next(x for x in __import__("civicgrid.cases.workflow", fromlist=["x"]).shipped_definitions() if x["code"] == "standard")
    d["states"]["reported"]["time_limit"] = {"default": "0.02m"}
    assert cc.client.post("/api/workflows?activate=true", json=d, headers=cc.headers("admin")).status_code == 201
    case = cc.make_case()
    slow = cc.make_case(category_code="09009", lon=116.63)
    with connect(cc.url) as conn:  # keep the second one in a long step: file it (30 min limit)
        pass
    ok(cc.act(slow["id"], "file", "shift_leader"), "filed")
    import time

    time.sleep(1.5)
    from civicgrid.cases.worker import run_once

    fired = run_once(cc.url)
    assert fired["fired"] == 2    # warn + overdue of the first case; the second case's step-1 timers are void
    assert run_once(cc.url)["fired"] == 0  # each timer fires once
    overdue = cc.client.get("/api/cases/overdue", headers=cc.headers("leader")).json()
    assert [c["id"] for c in overdue["cases"]] == [case["id"]] and overdue["cases"][0]["sla_color"] == "red"
    assert cc.client.get(f"/api/cases/{slow['id']}", headers=cc.headers("leader")).json()["sla_color"] == "green"
    with connect(cc.url) as conn:
        alerts = conn.execute("SELECT kind FROM case_alert WHERE case_id = %s ORDER BY kind", [case["id"]]).fetchall()
    assert [a["kind"] for a in alerts] == ["overdue", "warn"]
    view = cc.client.get("/api/cases/overview", headers=cc.headers("leader")).json()
    assert view["overdue"] == 1 and view["today"]["intake"] == 2
    assert {(s["state"], s["n"]) for s in view["by_state"]} == {("reported", 1), ("filed", 1)}
    assert cc.client.get("/api/cases/overview", headers=cc.headers("public")).status_code == 401
    assert cc.client.get("/api/cases/overview", headers=cc.headers("grid_officer")).status_code == 403
    assert cc.client.get("/api/cases?limit=0", headers=cc.headers("leader")).status_code == 400
    assert cc.client.get("/api/cases?colour=red", headers=cc.headers("leader")).json()["field"] == "colour"


def test_two_concurrent_actors_one_409(cases_client, pg):
    """Through a real `civicgrid serve` process: two dispatchers act on the same version at once."""
    from databases import start_server

    cc = cases_client
    case = cc.make_case()
    ok(cc.act(case["id"], "file", "shift_leader"), "filed")
    proc, base = start_server(cc.url, {"CIVICGRID_DEV_ROLE_HEADER": "1"})
    try:
        for _round in range(3):
            version = httpx.get(f"{base}/api/cases/{case['id']}", headers=cc.headers("leader")).json()["version"]
            barrier = threading.Barrier(2)
            results = []

            def go(user, barrier=barrier, results=results, version=version):
                barrier.wait()
                results.append(httpx.post(f"{base}/api/cases/{case['id']}/actions/urge", json={"version": version},
                                          headers=cc.headers("dispatcher", user), timeout=30).status_code)
            threads = [threading.Thread(target=go, args=(u,)) for u in ("DP-1", "DP-2")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == [200, 409], results
    finally:
        proc.terminate()
        proc.wait(10)
    final = cc.client.get(f"/api/cases/{case['id']}", headers=cc.headers("leader")).json()
    assert final["urge_count"] == 3 and final["version"] == 5
    assert_replays(cc, case["id"])


def test_open311_georeport_v2(cases_client):
    c = cases_client.client
    services = c.get("/api/open311/v2/services.json").json()
    assert {"service_code": "06010", "service_name": "暴露垃圾"}.items() <= next(
        s for s in services if s["service_code"] == "06010").items()
    r = c.post("/api/open311/v2/requests.json", data={"service_code": "06010", "lat": "40.12", "long": "116.605",
                                                      "description": "垃圾堆", "phone": "13700000000"})
    assert r.status_code == 201, r.text
    sid = r.json()[0]["service_request_id"]
    got = c.get(f"/api/open311/v2/requests/{sid}.json").json()[0]
    assert got["status"] == "open" and got["status_notes"] == "待核实" and got["service_code"] == "06010"
    assert "phone" not in got and abs(got["lat"] - 40.12) < 1e-9
    listed = c.get("/api/open311/v2/requests.json", params={"status": "open", "service_code": "06010"}).json()
    assert [x["service_request_id"] for x in listed] == [sid]
    xml = c.get(f"/api/open311/v2/requests.xml?service_request_id={sid}")
    assert xml.headers["content-type"].startswith("text/xml") and b"<service_request_id>" + sid.encode() in xml.content
    r = c.post("/api/open311/v2/requests.json", data={"service_code": "99999", "lat": "40.12", "long": "116.605"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400 and "unknown category" in r.json()[0]["description"]
    assert c.get("/api/open311/v2/requests/nope.json").status_code == 404
    assert c.get("/api/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z").status_code == 400


def test_calendar_edges_over_http(cases_client):
    """延期 counted on the working calendar: a deadline on Fri 13 Feb 2026 16:30 moved by one working
    day lands on the make-up Saturday 14 Feb; by two, it jumps the Spring Festival to Tue 24 Feb."""
    cc = cases_client
    results = {}
    for extend in ("1d", "2d", "4h"):
        case = cc.make_case(lon=116.605 + len(results) * 0.002)
        ok(cc.act(case["id"], "file", "shift_leader"), "filed")
        d = ok(cc.act(case["id"], "dispatch", "dispatcher", data={"deadline_at": "2026-02-13T16:30:00+08:00"}))
        assert datetime.fromisoformat(d["deadline_at"]) == datetime(2026, 2, 13, 8, 30, tzinfo=timezone.utc)
        ok(cc.act(case["id"], "postpone_request", "department_handler", comment="春节前来不及", data={"extend": extend}))
        approved = ok(cc.act(case["id"], "postpone_approve", "shift_leader"))
        results[extend] = datetime.fromisoformat(approved["deadline_at"]).astimezone(timezone(timedelta(hours=8)))
        assert approved["step_deadline_at"] == approved["deadline_at"] and approved["sla_color"] == "red"
        assert_replays(cc, case["id"])
    bj = timezone(timedelta(hours=8))
    assert results["1d"] == datetime(2026, 2, 14, 16, 30, tzinfo=bj)   # make-up Saturday (调休)
    assert results["2d"] == datetime(2026, 2, 24, 16, 30, tzinfo=bj)   # over the holiday 15–23 Feb
    assert results["4h"] == datetime(2026, 2, 14, 11, 30, tzinfo=bj)   # 1 h on Friday, 3 h on Saturday morning
