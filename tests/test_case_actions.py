"""GET /api/cases/{id}/actions: exactly the transitions the case's workflow version allows this caller
in this state, with forms built from the definition; remaining working time; a stale version refused."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from civicgrid.cases import testing
from civicgrid.cases.calendar import WorkCalendar, WorkClock


def actions(cc, case_id, role, user=None, **binding):
    r = cc.client.get(f"/api/cases/{case_id}/actions", headers=cc.headers(role, user, **binding))
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{r.json()["version"]}"'
    return r.json()


def names(answer):
    return [a["action"] for a in answer["actions"]]


def field(action, name):
    return next(f for f in action["fields"] if f["name"] == name)


def test_actions_follow_state_role_and_guard(cases_client):
    cc = cases_client
    cid = cc.make_case()["id"]
    # reported: the shift leader files (the guard on the case holds), the operator sends to verify or merges
    sl = actions(cc, cid, "shift_leader")
    assert sl["state"] == "reported" and sl["state_name"] == "信息收集/待受理" and sl["version"] == 1
    assert set(names(sl)) == {"send_verify", "file", "cancel", "merge"}   # locate: the case has a place
    assert set(names(actions(cc, cid, "intake_operator"))) == {"send_verify", "merge"}
    assert names(actions(cc, cid, "department_handler")) == []
    cancel = next(a for a in sl["actions"] if a["action"] == "cancel")
    assert cancel["to"] == "cancelled" and cancel["to_name"] == "作废" and cancel["role"] == "shift_leader"
    assert field(cancel, "comment") == {"name": "comment", "label": "办理意见", "type": "text", "required": True}
    merge = next(a for a in sl["actions"] if a["action"] == "merge")
    assert field(merge, "data.duplicate_of")["label"] == "合并到案件" and field(merge, "data.duplicate_of")["required"]
    assert sl["remaining_work_seconds"] is not None

    filed = cc.act(cid, "file", "shift_leader").json()
    # dispatch: the department field offers every active department, the rule's suggestion preselected
    dp = actions(cc, cid, "dispatcher")
    assert dp["version"] == filed["version"] and names(dp) == ["dispatch", "urge"]
    dept = field(dp["actions"][0], "data.department_code")
    assert dept["type"] == "department" and dept["suggested"] == testing.DEPT_ENFORCE == dept["default"]
    assert {o["value"] for o in dept["options"]} >= {testing.DEPT_ENFORCE, testing.DEPT_MUNICIPAL}
    assert "supervise" in names(actions(cc, cid, "leader"))

    cc.act(cid, "dispatch", "dispatcher")
    handler = actions(cc, cid, "department_handler", department=testing.DEPT_ENFORCE)
    assert set(names(handler)) == {"return", "feedback", "postpone_request"}
    feedback = next(a for a in handler["actions"] if a["action"] == "feedback")
    assert [f["name"] for f in feedback["fields"]] == ["photos", "comment"]
    assert field(feedback, "photos") == {"name": "photos", "label": "照片", "type": "photos", "required": True, "min": 1}
    postpone = next(a for a in handler["actions"] if a["action"] == "postpone_request")
    extend = field(postpone, "data.extend")
    assert extend["label"] == "延期时长" and extend["type"] == "duration" and extend["required"] and extend["options"]
    # 延期批准 is offered only while a request is pending (a guard on the case), 申请 only while none is
    assert "postpone_approve" not in names(actions(cc, cid, "shift_leader"))
    cc.act(cid, "postpone_request", "department_handler", comment="需要采购材料", data={"extend": "2d"})
    assert "postpone_approve" in names(actions(cc, cid, "shift_leader"))
    assert "postpone_request" not in names(actions(cc, cid, "department_handler", department=testing.DEPT_ENFORCE))

    cc.act(cid, "feedback", "department_handler", comment="已清理", photos=[cc.upload(3)])
    officer = actions(cc, cid, "grid_officer", "GO-001")
    assert set(names(officer)) == {"check_pass", "rework"}     # the verdict decides: offered, the guard checks it
    verdict = field(next(a for a in officer["actions"] if a["action"] == "check_pass"), "data.verdict")
    assert verdict["type"] == "select" and verdict["options"] == [
        {"value": "fixed", "label": "已处置到位"}, {"value": "not_fixed", "label": "未处置到位"}]

    # a stale version: the POST is refused with the version named, the answer says to reload
    stale = cc.act(cid, "check_pass", "grid_officer", "GO-001", version=officer["version"] - 1, data={"verdict": "fixed"})
    assert stale.status_code == 409 and stale.json()["field"] == "version" and "reload" in stale.json()["description"]
    cc.act(cid, "check_pass", "grid_officer", "GO-001", data={"verdict": "fixed"})
    done = actions(cc, cid, "shift_leader")
    assert done["is_closed"] and done["actions"] == [] and done["remaining_work_seconds"] is None

    # the case page: photos before/after, actor names in the timeline, remaining working time
    detail = cc.client.get(f"/api/cases/{cid}", headers=cc.headers("leader")).json()
    assert [p["kind"] for p in detail["photos"]] == ["after"] and detail["photos"][0]["action"] == "feedback"
    assert all("actor_name" in e for e in detail["timeline"])
    # someone else's case: not found, as for the other views
    other = cc.make_case(lon=116.635, lat=40.105, category_code="01001")
    r = cc.client.get(f"/api/cases/{other['id']}/actions",
                      headers=cc.headers("department_handler", department=testing.DEPT_ENFORCE))
    assert r.status_code == 404


def test_work_clock_counts_working_time_only():
    cal = WorkCalendar()
    tz = cal.tz
    # the eve of the National Day holidays: a week of days off lies between now and the deadline
    now = datetime(2026, 9, 30, 16, 30, tzinfo=tz)
    clock = WorkClock(cal, now)
    deadline = datetime(2026, 10, 8, 9, 30, tzinfo=tz)     # the first working day after the holidays
    assert clock.remaining_seconds(deadline) == round(cal.working_minutes(now, deadline) * 60) == (60 + 60) * 60
    past = now - timedelta(days=40)
    assert clock.remaining_seconds(past) == -round(cal.working_minutes(past, now) * 60)
    assert clock.remaining_seconds(now.astimezone(timezone.utc)) == 0


def inbox(cc, role, user=None, binding=None, **params):
    r = cc.client.get("/api/inbox", params=params, headers=cc.headers(role, user, **(binding or {})))
    assert r.status_code == 200, r.text
    return r.json()


def test_inboxes_per_role_with_counts(cases_client):
    cc = cases_client
    reported = cc.make_case()["id"]
    filed = cc.make_case(lon=116.606)["id"]
    cc.act(filed, "file", "shift_leader")
    dispatched = cc.make_case(lon=116.607)["id"]
    cc.act(dispatched, "file", "shift_leader")
    cc.act(dispatched, "dispatch", "dispatcher")
    cc.act(dispatched, "postpone_request", "department_handler", comment="等材料", data={"extend": "1d"})

    sl = inbox(cc, "shift_leader")
    assert sl["box"] == "shift_leader" and [b["box"] for b in sl["boxes"]] == ["shift_leader"]
    ids = [c["id"] for c in sl["cases"]]
    assert set(ids) == {reported, filed, dispatched} and sl["total"] == 3 == sl["boxes"][0]["count"]
    by_action = {a["action"]: a["count"] for a in sl["actions"]}
    assert by_action["file"] == 1 and by_action["postpone_approve"] == 1 and by_action["dispatch"] == 1
    only = inbox(cc, "shift_leader", action="postpone_approve")
    assert [c["id"] for c in only["cases"]] == [dispatched] and "postpone_approve" in only["cases"][0]["inbox_actions"]
    assert all(c["remaining_work_seconds"] is not None for c in sl["cases"])
    assert [c["id"] for c in inbox(cc, "shift_leader", q=sl["cases"][0]["case_number"])["cases"]] == [ids[0]]

    assert [c["id"] for c in inbox(cc, "dispatcher")["cases"]] == [filed]
    handler = inbox(cc, "department_handler", binding={"department": testing.DEPT_ENFORCE})
    assert [c["id"] for c in handler["cases"]] == [dispatched]
    assert inbox(cc, "department_handler", binding={"department": testing.DEPT_MUNICIPAL})["total"] == 0
    # the leader's box keeps only cases overdue, urged/supervised or with a 延期 request
    assert [c["id"] for c in inbox(cc, "leader")["cases"]] == [dispatched]
    assert inbox(cc, "intake_operator")["total"] == 1   # send to verify / merge the new report
    r = cc.client.get("/api/inbox", params={"box": "leader"}, headers=cc.headers("dispatcher"))
    assert r.status_code == 400 and r.json()["field"] == "box"
    r = cc.client.get("/api/inbox", headers=cc.headers("gis_editor"))
    assert r.status_code == 403


def test_officer_position_is_recorded_with_verify(cases_client):
    """核实 on site: the form asks for the phone's position (the workflow's `position: optional`), the
    action carries it, the timeline shows where the officer stood and how far from the case; a bad
    position is a 400 naming the field; an action without one still works."""
    cc = cases_client
    cid = cc.make_case()["id"]
    cc.act(cid, "send_verify", "intake_operator")
    verify = next(a for a in actions(cc, cid, "grid_officer", "GO-001")["actions"] if a["action"] == "verify")
    assert field(verify, "position") == {"name": "position", "label": "现场位置", "type": "position", "required": False}
    bad = cc.act(cid, "verify", "grid_officer", "GO-001", data={"verdict": "confirmed"}, position={"lon": 200, "lat": 40})
    assert bad.status_code == 400 and bad.json()["field"].startswith("position"), bad.text
    r = cc.act(cid, "verify", "grid_officer", "GO-001", data={"verdict": "confirmed"},
               position={"lon": 116.6053, "lat": 40.12, "accuracy_m": 12})
    assert r.status_code == 200, r.text
    timeline = cc.client.get(f"/api/cases/{cid}/timeline", headers=cc.headers("shift_leader")).json()
    report, _, verified = timeline
    assert report["position"] is None and report["actor_name"] == "网格员1"   # the officer's name, not a login
    assert verified["position"]["lon"] == 116.6053 and verified["position"]["accuracy_m"] == 12
    assert 20 < verified["position"]["distance_m"] < 30                     # 0.0003° of longitude here
    cc.act(cid, "file", "shift_leader")                                       # no position: as before
