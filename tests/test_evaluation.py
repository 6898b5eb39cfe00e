"""Evaluation periods, revisions and snapshots (evaluation/): the command-center role formulas on a
hand-made month with hand-computed numbers, snapshots that stay as they were, revisions, the
drill-down, the timer, the exports carrying the same numbers, access and validation."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from databases import demo_app
from openpyxl import load_workbook
from psycopg.types.json import Jsonb

from civicgrid.db import connect

TZ = ZoneInfo("Asia/Shanghai")
OP, LEAD, DISP = "测试受理员甲", "测试值班长甲", "测试派遣员甲"


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2020, 1, day, hh, mm, tzinfo=TZ)


def add_case(conn, serial: int, channel: str, events: list[tuple]) -> int:
    """A case and its events, as the engine would have written them: each moving event carries the
    new step's deadline in data.set.step_deadline_at. events: (action, to_state, actor, role, at, deadline)."""
    place = conn.execute("""SELECT standard, category_kind, category_code, unit_grid_code, community_code,
                                   responsibility_grid_code, officer_id, department_code
                            FROM cases WHERE unit_grid_code IS NOT NULL AND officer_id IS NOT NULL
                              AND responsibility_grid_code IS NOT NULL AND department_code IS NOT NULL
                            ORDER BY id LIMIT 1""").fetchone()
    final = events[-1][1]
    case = conn.execute("""INSERT INTO cases (case_number, channel, standard, category_kind, category_code, state, is_closed,
                                              unit_grid_code, community_code, responsibility_grid_code, officer_id,
                                              department_code, reported_at)
                           VALUES (%(number)s, %(channel)s, %(standard)s, %(category_kind)s, %(category_code)s, %(state)s,
                                   %(closed)s, %(unit_grid_code)s, %(community_code)s, %(responsibility_grid_code)s,
                                   %(officer_id)s, %(department_code)s, %(at)s) RETURNING id""",
                        {**place, "number": f"999999999202001{serial:02d}{serial:04d}", "channel": channel, "state": final,
                         "closed": final in ("closed", "cancelled"), "at": events[0][4]}).fetchone()
    state = None
    for seq, (action, to, actor, role, when, deadline) in enumerate(events, start=1):
        data = {"set": {"step_deadline_at": deadline.isoformat() if deadline else None}} if to != state else {}
        if action == "dispatch":
            data["department_code"] = place["department_code"]
        conn.execute("""INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, at, data)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                     [case["id"], seq, action, state, to, actor, role, when, Jsonb(data)])
        state = to
    return case["id"]


def hand_made_month(conn) -> dict:
    """Three cases in January 2020 (the demo town has nothing that early)."""
    h = timedelta(hours=1)
    c1 = add_case(conn, 1, "public", [
        ("report", "reported", "公众", "public", at(10, 8), at(10, 8, 30)),
        ("send_verify", "verifying", OP, "intake_operator", at(10, 8, 20), at(10, 9, 20)),     # on time
        ("verify", "reported", "RH001", "grid_officer", at(10, 9), at(10, 9, 30)),
        ("file", "filed", LEAD, "shift_leader", at(10, 9, 40), at(10, 10, 10)),               # late (09:30)
        ("dispatch", "dispatched", DISP, "dispatcher", at(10, 10), at(11, 10)),               # on time
        ("return", "filed", "部门", "department_handler", at(10, 11), at(10, 11, 30)),         # sent back: misdispatched
        ("dispatch", "dispatched", DISP, "dispatcher", at(10, 11, 45), at(11, 11, 45)),       # late (11:30)
        ("feedback", "handled", "部门", "department_handler", at(10, 15), at(10, 16)),
        ("check_pass", "closed", "RH001", "grid_officer", at(10, 15, 30), None),              # closed on time
    ])
    c2 = add_case(conn, 2, "hotline", [
        ("report", "reported", OP, "intake_operator", at(12, 9), at(12, 9, 30)),
        ("send_verify", "verifying", OP, "intake_operator", at(12, 9, 45), at(12, 10, 45)),   # late
        ("verify", "reported", "RH001", "grid_officer", at(12, 10), at(12, 10, 30)),
        ("file", "filed", LEAD, "shift_leader", at(12, 10, 10), at(12, 10, 40)),              # on time
        ("dispatch", "dispatched", DISP, "dispatcher", at(12, 10, 20), at(13, 10, 20)),       # on time
        ("feedback", "handled", "部门", "department_handler", at(14, 9), at(14, 9) + h),
        ("check_pass", "closed", "RH001", "grid_officer", at(14, 11), None),                  # closed late
    ])
    c3 = add_case(conn, 3, "hotline", [
        ("report", "reported", OP, "intake_operator", at(15, 9), at(15, 9, 30)),
        ("file", "filed", LEAD, "shift_leader", at(15, 9, 20), at(15, 9, 50)),                # on time
        ("cancel", "cancelled", LEAD, "shift_leader", at(15, 9, 40), None),                   # voided
    ])
    return {"c1": c1, "c2": c2, "c3": c3}


@pytest.fixture(scope="module")
def app(pg_admin_url, demo_url, tmp_path_factory):
    with demo_app(pg_admin_url, tmp_path_factory.mktemp("evaluation")) as client:
        with connect(client.url) as conn:
            client.cases = hand_made_month(conn)
            conn.commit()
        yield client


def H(app, role="evaluator"):
    return app.creds.headers(role)


def rows_of(app, period_id, kind, revision=None):
    params = {"kind": kind, **({"revision": revision} if revision else {})}
    r = app.get(f"/api/evaluation/periods/{period_id}/results", params=params, headers=H(app))
    assert r.status_code == 200, r.text
    return {row["entity_code"]: row for row in r.json()["rows"]}


@pytest.fixture(scope="module")
def january(app):
    r = app.post("/api/evaluation/periods", json={"kind": "monthly", "code": "2020-01"}, headers=H(app))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "2020年1月" and body["revision"] == 1 and body["state"] == "computed"
    return body


def test_role_formulas_on_a_hand_made_month(app, january):
    op = rows_of(app, january["id"], "intake_operator")[OP]
    # 受理数 3 (cases 1–3) → band score 40; 核实按时派发 1 of 2; no check dispatch → full marks
    assert {k: op["indicators"][k] for k in ("accepted", "verify_sent", "verify_sent_on_time", "check_sent")} == \
        {"accepted": 3, "verify_sent": 2, "verify_sent_on_time": 1, "check_sent": 0}
    assert op["indicators"]["on_time_verify_dispatch_rate"] == 0.5 and op["indicators"]["on_time_check_dispatch_rate"] is None
    assert op["score"] == 65.0 and op["grade"] == "C"          # 0.25×40 + 0.40×50 + 0.35×100

    lead = rows_of(app, january["id"], "shift_leader")[LEAD]
    # 立案 3, on time 2 (case 1 late), 作废 1 (case 3); 结案 2 of his cases, on time 1 (case 2 late)
    assert {k: lead["indicators"][k] for k in ("filed", "filed_on_time", "cancelled", "closed", "closed_on_time")} == \
        {"filed": 3, "filed_on_time": 2, "cancelled": 1, "closed": 2, "closed_on_time": 1}
    assert lead["score"] == 60.83 and lead["grade"] == "C"     # 0.25×66.67 + 0.40×66.67 + 0.35×50

    disp = rows_of(app, january["id"], "dispatcher")[DISP]
    # 应派遣 3, on time 2 (case 1's second late), 误派 1 (case 1's first, sent back)
    assert {k: disp["indicators"][k] for k in ("dispatched", "dispatched_on_time", "misdispatched")} == \
        {"dispatched": 3, "dispatched_on_time": 2, "misdispatched": 1}
    assert disp["score"] == 61.33 and disp["grade"] == "C"     # 0.20×40 + 0.40×66.67 + 0.40×66.67
    assert disp["rank"] == 1 and disp["rank_change"] is None   # no December 2019 to compare with

    # every number drills down to its cases
    r = app.get(f"/api/evaluation/periods/{january['id']}/cases",
                params={"kind": "dispatcher", "code": DISP, "indicator": "misdispatched"}, headers=H(app))
    assert r.status_code == 200 and r.json()["count"] == 1
    assert [c["id"] for c in r.json()["cases"]] == [app.cases["c1"]]
    r = app.get(f"/api/evaluation/periods/{january['id']}/cases",
                params={"kind": "shift_leader", "code": LEAD, "indicator": "filed"}, headers=H(app))
    assert sorted(c["id"] for c in r.json()["cases"]) == sorted(app.cases.values())
    assert r.json()["cases"][0]["case_number"].startswith("999999999")


def test_snapshot_stays_and_recompute_makes_a_revision(app, january):
    pid = january["id"]
    before = rows_of(app, pid, "shift_leader")[LEAD]
    with connect(app.url) as conn:   # a late-arriving case of that month
        add_case(conn, 4, "hotline", [("report", "reported", OP, "intake_operator", at(20, 9), at(20, 9, 30)),
                                      ("file", "filed", LEAD, "shift_leader", at(20, 9, 10), at(20, 9, 40))])
        conn.commit()
        with pytest.raises(Exception, match="immutable"):
            conn.execute("UPDATE evaluation_result SET score = 0 WHERE entity_code = %s", [LEAD])
        conn.rollback()
    assert rows_of(app, pid, "shift_leader")[LEAD] == before

    r = app.post(f"/api/evaluation/periods/{pid}/compute", json={}, headers=H(app))
    assert r.status_code == 400 and r.json()["field"] == "reason"
    r = app.post(f"/api/evaluation/periods/{pid}/compute", json={"reason": "补录案件"}, headers=H(app))
    assert r.status_code == 201, r.text
    revs = r.json()["revisions"]
    assert [x["revision"] for x in revs] == [2, 1] and revs[0]["reason"] == "补录案件"
    assert rows_of(app, pid, "shift_leader")[LEAD]["indicators"]["filed"] == 4
    assert rows_of(app, pid, "shift_leader", revision=1)[LEAD] == before

    # publish once; the leader reads, but may not compute
    r = app.post(f"/api/evaluation/revisions/{revs[0]['id']}/publish", headers=H(app))
    assert r.status_code == 200 and r.json()["state"] == "published"
    assert app.post(f"/api/evaluation/revisions/{revs[0]['id']}/publish", headers=H(app)).status_code == 409
    assert app.get(f"/api/evaluation/periods/{pid}", headers=H(app, "leader")).status_code == 200
    assert app.post(f"/api/evaluation/periods/{pid}/compute", json={"reason": "x"}, headers=H(app, "leader")).status_code == 403
    assert app.get("/api/evaluation/periods", headers=H(app, "grid_officer")).status_code == 403


def test_areas_match_the_area_evaluation_process_and_compare(app):
    from civicgrid.processes.evaluation import evaluate, load_config

    r = app.post("/api/evaluation/periods", json={"kind": "custom", "code": "demo-q", "name": "演示季度",
                                                 "start": "2026-08-01T00:00:00+08:00", "end": "2026-11-01T00:00:00+08:00"},
                 headers=H(app))
    assert r.status_code == 201, r.text
    mine = rows_of(app, r.json()["id"], "community")
    with connect(app.url) as conn:
        theirs = evaluate(conn, "community", datetime(2026, 8, 1, tzinfo=TZ), datetime(2026, 11, 1, tzinfo=TZ), load_config())
    assert sum(x["filed"] for x in theirs) > 0
    for t in theirs:
        m = mine[t["code"]]
        assert (m["indicators"]["filed"], m["indicators"]["on_time_closed"], m["score"], m["grade"]) == \
            (t["filed"], t["on_time_closed"], t["score"], t["grade"])
    # the map: one feature per community with its score and grade
    g = app.get(f"/api/evaluation/periods/{r.json()['id']}/map", params={"kind": "community"}, headers=H(app)).json()
    assert len(g["features"]) == len(theirs) and {"score", "grade", "rank"} <= set(g["features"][0]["properties"])


def test_timer_closes_ended_periods_once(app):
    from civicgrid.evaluation.compute import AUTO_REASON, close_due

    with connect(app.url) as conn:
        made = close_due(conn, datetime(2020, 4, 2, 1, tzinfo=TZ))   # March and Q1 2020 have ended
        assert [m["reason"] for m in made] == [AUTO_REASON, AUTO_REASON]
        assert close_due(conn, datetime(2020, 4, 2, 2, tzinfo=TZ)) == []
        conn.commit()
    periods = app.get("/api/evaluation/periods", params={"kind": "quarterly"}, headers=H(app)).json()["periods"]
    q1 = next(p for p in periods if p["code"] == "2020-Q1")
    assert q1["state"] == "computed"
    # 2020-Q1 holds January's cases: the history of the dispatcher has the quarter
    h = app.get("/api/evaluation/history", params={"kind": "dispatcher", "code": DISP, "period_kind": "quarterly"},
                headers=H(app)).json()
    assert [p["code"] for p in h["points"]] == ["2020-Q1"]


def test_method_versions_are_validated(app):
    m = app.get("/api/evaluation/method", headers=H(app)).json()
    cfg = m["config"]
    bad = {**cfg, "dispatcher": {**cfg["dispatcher"], "weights": {**cfg["dispatcher"]["weights"], "dispatched_score": 0.5}}}
    r = app.put("/api/evaluation/method", json={"config": bad}, headers=H(app, "admin"))
    assert r.status_code == 400 and r.json()["field"].startswith("config.dispatcher"), r.text
    assert app.put("/api/evaluation/method", json={"config": cfg}, headers=H(app, "evaluator")).status_code == 403
    r = app.put("/api/evaluation/method", json={"config": cfg, "note": "同上"}, headers=H(app, "admin"))
    assert r.status_code == 201 and r.json()["version"] == m["version"] + 1
    assert app.post("/api/evaluation/periods", json={"kind": "monthly", "code": "2020-13"}, headers=H(app)).json()["field"] == "code"


def test_exports_carry_the_same_numbers(app, january):
    pid = january["id"]
    disp = rows_of(app, pid, "dispatcher")[DISP]
    r = app.get(f"/api/evaluation/periods/{pid}/export.xlsx", headers=H(app, "leader"))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["派遣员"]
    header = [c.value for c in ws[3]]
    row = next(r for r in ws.iter_rows(min_row=4, values_only=True) if r[header.index("名称")] == DISP)
    assert row[header.index("综合指标值")] == disp["score"] == 61.33
    assert row[header.index("应派遣数")] == 3 and row[header.index("等级")] == "C"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: scripts/setup.sh test")
    r = app.get(f"/api/evaluation/periods/{pid}/export.pdf", params={"kind": "dispatcher"}, headers=H(app))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=r.content, capture_output=True, check=True).stdout.decode()
    line = next(x for x in text.splitlines() if DISP in x)
    assert "61.33" in line and " C " in f" {line} " and "3" in line.split()
    assert "综合评价报告 2020年1月" in text and "派遣员评价" in text
    assert app.get(f"/api/evaluation/periods/{pid}/export.doc", headers=H(app)).status_code == 404


def test_month_on_month_and_year_on_year(app, january):
    for code in ("2019-12", "2019-01"):
        assert app.post("/api/evaluation/periods", json={"kind": "monthly", "code": code}, headers=H(app)).status_code == 201
    with connect(app.url) as conn:
        grid = conn.execute("SELECT unit_grid_code FROM cases WHERE id = %s", [app.cases["c1"]]).fetchone()["unit_grid_code"]
    row = rows_of(app, january["id"], "unit_grid")[grid]
    assert row["indicators"]["filed"] >= 2 and row["prev_score"] == 100.0 and row["yoy_score"] == 100.0   # nothing filed then
    assert row["mom"] == round(row["score"] - 100.0, 2) == row["yoy"]
    assert row["rank_change"] == row["prev_rank"] - row["rank"] and row["prev_rank"] == 1
