"""Workflow definitions, the guard language and the working calendar (no database), then the
workflow admin API over HTTP (versions, activation, selection rules)."""
from __future__ import annotations

import copy
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import yaml

from civicgrid.cases.calendar import WorkCalendar
from civicgrid.cases.expr import Guard, GuardError
from civicgrid.cases.workflow import WorkflowInvalid, compile_definition, shipped_definitions

BJ = ZoneInfo("Asia/Shanghai")


def shipped(code):
    return copy.deepcopy(next(d for d in shipped_definitions() if d["code"] == code))


def test_shipped_workflows_are_valid():
    codes = {compile_definition(d).code for d in shipped_definitions()}
    assert codes == {"standard", "self_handling", "hotline"}
    std = compile_definition(shipped("standard"))
    # the state and action codes the demo generator writes are all there
    assert {"reported", "verifying", "filed", "dispatched", "handled", "closed", "cancelled", "suspended"} <= set(std.states)
    assert {"verify", "file", "dispatch", "feedback", "rework", "return", "check_pass", "cancel", "suspend",
            "urge", "supervise", "postpone_request", "postpone_approve"} <= {t.action for t in std.transitions}
    assert std.is_closed("closed") and std.is_closed("cancelled") and not std.is_closed("suspended")


def test_errors_name_the_place():
    d = shipped("self_handling")
    d["transitions"][0]["to"] = "nowhere"
    d["states"]["orphan"] = {"name": "孤立"}
    d["transitions"][1]["guard"] = "__import__('os').system('true')"
    with pytest.raises(WorkflowInvalid) as info:
        compile_definition(d)
    paths: dict[str, str] = {}
    for e in info.value.errors:
        paths[e["path"]] = paths.get(e["path"], "") + e["message"] + "; "
    assert "unknown target state 'nowhere'" in paths["transitions[0].to"]
    assert "cannot be reached from an initial state" in paths["states.orphan"]
    assert "no closed state can be reached" in paths["states.orphan"]
    assert "not allowed" in paths["transitions[1].guard"]


def test_schema_errors_and_dead_ends():
    d = shipped("self_handling")
    d["transitions"][0]["roles"] = ["janitor"]
    with pytest.raises(WorkflowInvalid) as info:
        compile_definition(d)
    assert info.value.errors[0]["path"] == "transitions[0].roles[0]"
    d = shipped("self_handling")
    d["states"]["stuck"] = {"name": "卡住"}
    d["transitions"].append({"action": "park", "from": ["self_reported"], "to": "stuck", "roles": ["shift_leader"]})
    with pytest.raises(WorkflowInvalid) as info:
        compile_definition(d)
    assert info.value.field == "states.stuck" and "no closed state can be reached" in str(info.value)


def test_errors_carry_their_line_and_column():
    d = shipped("self_handling")
    d["transitions"][1]["roles"] = []
    d["states"]["self_reported"]["time_limit"]["default"] = "2 weeks"
    text = yaml.safe_dump(d, allow_unicode=True, sort_keys=False)
    lines = text.splitlines()
    second = [i for i, line in enumerate(lines) if line.startswith("- action:")][1]
    roles = next(i for i in range(second, len(lines)) if lines[i].lstrip().startswith("roles:"))
    limit = next(i for i, line in enumerate(lines) if line.lstrip().startswith("default: 2 weeks"))
    with pytest.raises(WorkflowInvalid) as info:
        compile_definition(d)
    where = {e["path"]: (e["line"], e["column"]) for e in info.value.located(text).errors}
    assert where["transitions[1].roles"] == (roles + 1, lines[roles].index("roles") + 1)
    assert where["states.self_reported.time_limit.default"] == (limit + 1, lines[limit].index("default") + 1)


def test_time_limit_most_specific_rule_wins():
    std = compile_definition(shipped("standard"))
    assert std.time_limit("dispatched", "06010", "normal") == (1.0, "day")
    assert std.time_limit("dispatched", "01001", "normal") == (2.0, "day")       # major 01
    assert std.time_limit("dispatched", "01001", "urgent") == (2.0, "hour")      # 0100 + urgent
    assert std.time_limit("dispatched", "09009", "critical") == (2.0, "hour")
    assert std.time_limit("closed", "06010", "normal") is None


@pytest.mark.parametrize("text", [
    "__import__('os')", "case.__class__", "open('x')", "1 + 1", "lambda: 1", "[x for x in case]",
    "case['state']", "f'{case}'", "exec('1')", "eval('1')", "globals()",
])
def test_guard_language_refuses_everything_else(text):
    with pytest.raises(GuardError):
        Guard(text)


def test_guard_language_evaluates():
    g = Guard("case.urgency == 'critical' and data.verdict in ['fixed', 'ok'] or len(photos) >= 2")
    assert g({"case": {"urgency": "critical"}, "data": {"verdict": "fixed"}})
    assert g({"case": {}, "data": {}, "photos": ["a", "b"]})
    assert not g({"case": {}, "data": {}})
    assert Guard("not case.postpone_pending")({"case": {"postpone_pending": False}})
    assert Guard("startswith(case.category_code, '06')")({"case": {"category_code": "06010"}})
    assert not Guard("case.rework_count > 2")({"case": {}})  # None > 2 does not hold instead of failing


def test_calendar_spring_festival_2026():
    cal = WorkCalendar()
    # Fri 13 Feb 2026 16:30; 1 working day (7.5 h): Sat 14 Feb is a make-up workday (调休上班)
    start = datetime(2026, 2, 13, 16, 30, tzinfo=BJ)
    assert cal.add(start, cal.to_minutes(1, "day")) == datetime(2026, 2, 14, 16, 30, tzinfo=BJ)
    # 2 working days: the holiday 15–23 Feb is skipped entirely, next is Tue 24 Feb
    assert cal.add(start, cal.to_minutes(2, "day")) == datetime(2026, 2, 24, 16, 30, tzinfo=BJ)
    # 4 working hours from Sat 14 Feb 16:00 → 1.5 h that afternoon, 2.5 h on 24 Feb (08:30–11:00)
    assert cal.add(datetime(2026, 2, 14, 16, 0, tzinfo=BJ), 240) == datetime(2026, 2, 24, 11, 0, tzinfo=BJ)
    assert cal.working_minutes(datetime(2026, 2, 14, 17, 30, tzinfo=BJ), datetime(2026, 2, 24, 8, 30, tzinfo=BJ)) == 0


def test_calendar_make_up_saturday_and_overrides():
    cal = WorkCalendar()
    assert cal.is_workday(datetime(2026, 2, 28).date())          # make-up Saturday after the festival
    assert not cal.is_workday(datetime(2026, 3, 7).date())       # an ordinary Saturday
    fri = datetime(2026, 2, 27, 17, 0, tzinfo=BJ)
    assert cal.add(fri, 60) == datetime(2026, 2, 28, 9, 0, tzinfo=BJ)
    # lunch break is not working time; a local override turns a workday off
    assert cal.add(datetime(2026, 3, 2, 11, 30, tzinfo=BJ), 60) == datetime(2026, 3, 2, 14, 0, tzinfo=BJ)
    cal.overrides[datetime(2026, 3, 3).date()] = False
    assert cal.add(datetime(2026, 3, 2, 17, 0, tzinfo=BJ), 60) == datetime(2026, 3, 4, 9, 0, tzinfo=BJ)
    cal.periods = [(time(9), time(17))]
    assert cal.day_minutes == 480


# ---------------------------------------------------------------- admin API

def test_workflow_admin_versions_and_rules(cases_client):
    c, H = cases_client.client, cases_client.headers
    listed = c.get("/api/workflows", headers=H("admin")).json()["workflows"]
    assert {(w["code"], w["version"], w["is_active"]) for w in listed} >= {("standard", 1, True), ("hotline", 1, True)}
    d = shipped("self_handling")
    # only admins change workflows
    r = c.post("/api/workflows", json=d, headers=H("shift_leader"))
    assert r.status_code == 403 and r.json()["field"] == "role"
    bad = copy.deepcopy(d)
    bad["initial"]["default"] = "missing"
    r = c.post("/api/workflows", json=bad, headers=H("admin"))
    assert r.status_code == 400 and r.json()["field"] == "initial.default"
    r = c.post("/api/workflows/validate", content="code: [unclosed", headers=H("admin"))
    assert r.status_code == 400 and "line" in r.json()["field"] and r.json()["errors"][0]["line"] == 1
    # every error names its place in the text sent, as a path and as line/column
    r = c.post("/api/workflows/validate", content=yaml.safe_dump({**d, "name": ""}, allow_unicode=True, sort_keys=False),
               headers=H("admin"))
    assert r.status_code == 400 and r.json()["field"] == "name"
    assert r.json()["errors"] == [{"path": "name", "message": "'' should be non-empty", "line": 2, "column": 1}]

    # a case started on v1 keeps v1 after v2 (with an extra step) is activated
    old = c.post("/api/cases", json=cases_client.self_handled_payload(), headers=H("grid_officer", "GO-001")).json()
    assert old["workflow"] == "self_handling" and old["workflow_version"] == 1
    d["states"]["self_reported"]["name"] = "自行处置待核实（新版）"
    yaml_text = __import__("yaml").safe_dump(d, allow_unicode=True)
    r = c.post("/api/workflows?activate=true", content=yaml_text, headers={**H("admin"), "content-type": "application/yaml"})
    assert r.status_code == 201 and r.json()["version"] == 2
    new = c.post("/api/cases", json=cases_client.self_handled_payload(), headers=H("grid_officer", "GO-001")).json()
    assert new["workflow_version"] == 2 and new["state_name"] == "自行处置待核实（新版）"
    assert c.get(f"/api/cases/{old['id']}", headers=H("shift_leader")).json()["state_name"] == "已自行处置/待核实"
    r = c.post("/api/workflows/self_handling/versions/1/activate", headers=H("admin"))
    assert r.status_code == 200
    assert c.get("/api/workflows/self_handling", headers=H("admin")).json()["version"] == 1

    # selection rule as data: public reports of category 07 get the hotline flow
    r = c.post("/api/workflow-rules", json={"channel": "public", "category_prefix": "07", "workflow_code": "hotline"},
               headers=H("admin"))
    assert r.status_code == 201
    case = c.post("/api/cases", json={"channel": "public", "category_code": "07001", "lon": 116.61, "lat": 40.12},
                  headers=H("public")).json()
    assert case["workflow"] == "hotline" and case["state"] == "received"
    # the designer's preview is the intake's own selection: rule, workflow, active version, first state
    preview = c.get("/api/workflow-rules/preview", params={"channel": "public", "category": "07001"},
                    headers=H("shift_leader")).json()
    assert preview["rule"]["category_prefix"] == "07" and preview["workflow"]["code"] == case["workflow"]
    assert preview["workflow"]["version"] == case["workflow_version"] and preview["initial_state"]["code"] == "received"
    preview = c.get("/api/workflow-rules/preview", params={"channel": "patrol", "category": "06010", "self_handled": "true"},
                    headers=H("admin")).json()
    assert (preview["workflow"]["code"], preview["workflow"]["version"], preview["rule"]["self_handled"]) == \
        ("self_handling", 1, True)
    for params, field in (({"channel": "pigeon", "category": "06010"}, "channel"),
                          ({"channel": "public", "category": "99999"}, "category"),
                          ({"channel": "public"}, "category"),
                          ({"channel": "public", "category": "06010", "self_handled": "maybe"}, "self_handled")):
        r = c.get("/api/workflow-rules/preview", params=params, headers=H("admin"))
        assert r.status_code == 400 and r.json()["field"] == field, (params, r.text)
    r = c.post("/api/workflow-rules", json={"workflow_code": "nonexistent"}, headers=H("admin"))
    assert r.status_code == 409 and r.json()["field"] == "workflow_code"
    r = c.post("/api/workflow-rules", json={"workflow_code": "hotline", "self_handled": 5}, headers=H("admin"))
    assert r.status_code == 400 and r.json()["field"] == "self_handled"
    r = c.post("/api/workflow-rules", json={"workflow_code": "hotline", "channel": "pigeon"}, headers=H("admin"))
    assert r.status_code == 400 and "channel" in r.json()["field"]
    rule_id = [x for x in c.get("/api/workflow-rules", headers=H("admin")).json()["rules"] if x["category_prefix"] == "07"][0]["id"]
    assert c.delete(f"/api/workflow-rules/{rule_id}", headers=H("admin")).status_code == 204
