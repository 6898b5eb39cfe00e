"""The monthly operations assessment (运维考核) with hand-computed expectations, on one private demo
copy. Months are assessed in order (January … May 2026), because warnings become breaches from
their second time over the contract:

- 2026-01 excellent: nothing confirmed → 100, 优秀, paid on time (proposals dismissed, signed).
- 2026-02 deductions: 3 spot checks short (−1.5 → 8.5), 12 days without inspection (−12 → floored
  at 0), a weekly report at Monday 10:01 (−2 → 3), a serious complaint (−5 → 5): 81.5 良好;
  attendance 47/50 = 94 % (first time: warning), not 优秀 (first time: warning); no penalty.
- 2026-03 a serious leak: 0, 不达标; attendance 94 % again and not 优秀 again → 2 breaches,
  2 × 33,399.88 = 66,799.76; payment deferred.
- 2026-04 three conduct breaches at once: 0; not 优秀 (3rd: breach) and three unperformed items
  (the third a breach) → 2 breaches, 66,799.76.
- 2026-05 70 达标 (deferred), re-assessed after rectification → 78 良好: the deferral released,
  revision 1 kept.
"""
from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest

from civicgrid.assessment import service
from civicgrid.db import connect

LOCAL = ZoneInfo("Asia/Shanghai")
PENALTY = Decimal("33399.88")


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("assessment")) as client:
        client.ev = client.creds.headers("evaluator")
        client.ops = client.creds.headers("ops_staff")
        yield client


def at(y, m, d, hh=12, mm=0) -> str:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL).isoformat()


def sql(town, query, args=None):
    with connect(town.url) as conn:
        return conn.execute(query, args).fetchall() if query.lstrip().upper().startswith(("SELECT", "WITH")) \
            else conn.execute(query, args).rowcount


def compute(town, month):
    r = town.post(f"/api/assessment/months/{month}/compute", headers=town.ev)
    assert r.status_code == 200, r.text
    return r.json()


def proposed(view, rule):
    return [e for e in view["events"] if e["rule_code"] == rule and e["status"] == "proposed"]


def decide(town, event_id, status, reason="核实"):
    r = town.post(f"/api/assessment/events/{event_id}/decision", headers=town.ev, json={"status": status, "reason": reason})
    assert r.status_code == 200, r.text


def event(town, month, rule, day, count=1, note="") -> dict:
    y, m = map(int, month.split("-"))
    r = town.post("/api/assessment/events", headers=town.ev,
                  json={"month": month, "rule_code": rule, "count": count, "occurred_at": at(y, m, day), "note": note})
    assert r.status_code == 201, r.text
    return r.json()


def sign(town, month, keep=()):
    """Dismiss every open proposal not confirmed by the test (`keep`: ids to confirm), then sign."""
    view = town.get(f"/api/assessment/months/{month}", headers=town.ev).json()
    with connect(town.url) as conn:
        for e in view["events"]:
            if e["status"] == "proposed":
                service.decide(conn, e["id"], "confirmed" if e["id"] in keep else "dismissed", "核实", "t.evaluator")
    r = town.post(f"/api/assessment/months/{month}/sign", headers=town.ev)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def roster(town, month, present_b):
    """Two staff rostered on the 1st … 25th; A always present, B on `present_b` of those days."""
    y, m = map(int, month.split("-"))
    days = [date(y, m, 1) + timedelta(n) for n in range(25)]
    staff = sql(town, "SELECT id FROM ops_staff ORDER BY id")
    a, b = staff[0]["id"], staff[1]["id"]
    for sid, n in ((a, 25), (b, present_b)):
        r = town.post("/api/assessment/roster", headers=town.ops, json={"staff_id": sid, "days": [d.isoformat() for d in days]})
        assert r.status_code == 201, r.text
        sql(town, "INSERT INTO ops_attendance (staff_id, day, sign_in_at, recorded_by) "
                  "SELECT %s, d, d + time '08:30', 'test' FROM unnest(%s::date[]) d", [sid, days[:n]])


def scores(result):
    return {i["code"]: float(i["score"]) for i in result["items"]}


@pytest.fixture(scope="module")
def months(town):
    """The five months, assessed in order; each test below reads what it needs."""
    out = {}
    for name, title, lead in (("王工", "现场负责人", True), ("李工", "运维工程师", False)):
        r = town.post("/api/assessment/staff", headers=town.ops, json={"name": name, "title": title, "is_lead": lead})
        assert r.status_code == 201, r.text

    # ---- January: nothing confirmed
    roster(town, "2026-01", 25)
    out["jan_view"] = compute(town, "2026-01")
    out["jan"] = sign(town, "2026-01")

    # ---- February
    roster(town, "2026-02", 22)
    for d in (3, 10, 17):
        r = town.post("/api/assessment/spot-checks", headers=town.ev, json={"checked_at": at(2026, 2, d, 10), "found": 2})
        assert r.status_code == 201, r.text
    r = town.post("/api/assessment/spot-checks", headers=town.ev, json={"checked_at": at(2026, 2, 24, 10), "found": 3})
    assert r.status_code == 201
    # inspections complete on the 13th … 28th: the first twelve days have none
    items = sql(town, "SELECT code, source FROM ops_check_item WHERE section = 'daily' AND active")
    sql(town, "INSERT INTO ops_inspection (day, item_code, ok, source, recorded_by) SELECT d::date, c, true, 'manual', 't' "
              "FROM generate_series('2026-02-13'::date, '2026-02-28', '1 day') d, unnest(%s::text[]) c",
        [[i["code"] for i in items]])
    # one day with two manual items missing (kept as a proposal of 2 × 0.5, dismissed below)
    sql(town, "DELETE FROM ops_inspection WHERE day = '2026-02-20' AND item_code IN ('network', 'video')")
    for week, submitted in (("2026-02-02", at(2026, 2, 9, 10, 1)), ("2026-02-09", at(2026, 2, 16, 9, 59))):
        r = town.post("/api/assessment/reports", headers=town.ev,
                      json={"kind": "weekly", "period_start": week, "submitted_at": submitted})
        assert r.status_code == 201, r.text
    view = compute(town, "2026-02")
    out["feb_view"] = view
    keep = {e["id"] for e in proposed(view, "staff_short")}
    keep |= {e["id"] for e in proposed(view, "inspection_day")}
    keep |= {e["id"] for e in proposed(view, "report_late") if e["evidence"]["period_start"] == "2026-02-02"}
    event(town, "2026-02", "complaint_serious", 12, note="市民投诉系统长时间无法登录")
    out["feb"] = sign(town, "2026-02", keep)

    # ---- March: a serious leak
    roster(town, "2026-03", 22)
    event(town, "2026-03", "leak_serious", 5, note="案件当事人信息外泄，后果严重")
    event(town, "2026-03", "complaint", 6)
    compute(town, "2026-03")
    out["mar"] = sign(town, "2026-03")

    # ---- April: three conduct breaches at once, three unperformed contract items
    event(town, "2026-04", "conduct", 8, count=3, note="值守期间擅离岗位、推诿、未按规定上报")
    for d in (2, 9, 16):
        event(town, "2026-04", "unperformed", d, note="未按合同提供驻场培训")
    compute(town, "2026-04")
    out["apr"] = sign(town, "2026-04")

    # ---- May: 70 达标, re-assessed to 78 良好
    for rule, n in (("fault_late", 5), ("security_late", 5), ("complaint", 10)):
        out[f"may_{rule}"] = event(town, "2026-05", rule, 7, count=n)
    compute(town, "2026-05")
    out["may1"] = sign(town, "2026-05")
    return out


def test_excellent_month(months):
    jan = months["jan"]
    assert float(jan["total"]) == 100 and jan["grade"] == "excellent" and jan["status"] == "signed"
    assert jan["warnings"] == [] and jan["breaches"] == 0 and float(jan["penalty"]) == 0
    assert float(jan["attendance_rate"]) == 1 and jan["consequence"] == "按时支付" and not jan["deferred"]
    # what the system saw without any records: 31 days without inspection, reports never submitted
    view = months["jan_view"]
    assert len(proposed(view, "inspection_day")) == 31
    assert {e["evidence"]["kind"] for e in proposed(view, "report_late")} == {"weekly", "monthly"}


def test_deductions_floor_and_weekly_report_at_1001(months):
    feb, view = months["feb"], months["feb_view"]
    assert len(proposed(view, "staff_short")) == 3          # the fourth check found all three
    assert len(proposed(view, "inspection_day")) == 12
    partial = proposed(view, "inspection_item")
    assert len(partial) == 1 and partial[0]["count"] == 2 and set(partial[0]["evidence"]["missing"]) == {"network", "video"}
    late = {e["evidence"]["period_start"]: e for e in proposed(view, "report_late") if e["evidence"]["kind"] == "weekly"}
    assert "2026-02-02" in late and "2026-02-09" not in late    # 10:01 is late, 09:59 is not
    assert set(late) == {"2026-01-26", "2026-02-02", "2026-02-16"}   # the weeks whose Sunday is in February
    s = scores(feb)
    assert s["attendance"] == 8.5 and s["inspection"] == 0 and s["reports"] == 3 and s["complaints"] == 5
    deducted = {i["code"]: float(i["deducted"]) for i in feb["items"]}
    assert deducted["inspection"] == 12                        # more than the item's 10: floored at 0
    assert float(feb["total"]) == 81.5 and feb["grade"] == "good"
    assert float(feb["attendance_rate"]) == 0.94
    assert [(w["kind"], w["occurrence"], w["breach"]) for w in feb["warnings"]] == [
        ("attendance", 1, False), ("not_excellent", 1, False)]
    assert feb["breaches"] == 0 and float(feb["penalty"]) == 0 and feb["consequence"] == "可要求整改，按时支付"


def test_serious_leak_zeroes_and_second_warnings_are_breaches(months):
    mar = months["mar"]
    assert float(mar["total"]) == 0 and mar["zeroed_by"] == ["leak_serious"] and mar["grade"] == "fail"
    assert scores(mar)["complaints"] == 9                       # the items are kept; the month scores 0
    assert [(w["kind"], w["occurrence"], w["breach"]) for w in mar["warnings"]] == [
        ("attendance", 2, True), ("not_excellent", 2, True)]
    assert mar["breaches"] == 2 and Decimal(str(mar["penalty"])) == 2 * PENALTY
    assert mar["deferred"] and "暂缓支付" in mar["consequence"]


def test_three_conduct_breaches_and_third_warning(months):
    apr = months["apr"]
    assert float(apr["total"]) == 0 and apr["zeroed_by"] == ["conduct"] and scores(apr)["conduct"] == 2
    assert apr["attendance_rate"] is None                      # nobody rostered: no attendance warning
    assert [(w["kind"], w["occurrence"], w["breach"]) for w in apr["warnings"]] == [
        ("unperformed", 1, False), ("unperformed", 2, False), ("unperformed", 3, True), ("not_excellent", 3, True)]
    assert apr["breaches"] == 2 and Decimal(str(apr["penalty"])) == 2 * PENALTY


def test_reassessment_to_good_releases_the_deferred_payment(town, months):
    may1 = months["may1"]
    assert float(may1["total"]) == 70 and may1["grade"] == "pass" and may1["deferred"] and not may1["released"]
    # signed: locked for records and events until a re-assessment
    r = town.post("/api/assessment/events", headers=town.ev,
                  json={"month": "2026-05", "rule_code": "complaint", "occurred_at": at(2026, 5, 9)})
    assert r.status_code == 409 and r.json()["field"] == "month"
    r = town.post("/api/assessment/faults", headers=town.ev, json={"reported_at": at(2026, 5, 9), "description": "补录"})
    assert r.status_code == 409
    assert town.post("/api/assessment/months/2026-05/reassess", headers=town.ev, json={}).status_code == 400
    r = town.post("/api/assessment/months/2026-05/reassess", headers=town.ev, json={"reason": "整改完成，投诉复核"})
    assert r.status_code == 201, r.text
    complaint = months["may_complaint"]
    decide(town, complaint["id"], "dismissed", "复核：10次投诉中8次不成立")
    event(town, "2026-05", "complaint", 7, count=2)
    may2 = sign(town, "2026-05")
    assert may2["revision"] == 2 and float(may2["total"]) == 78 and may2["grade"] == "good"
    assert may2["released"] and not may2["deferred"] and "解除暂缓" in may2["consequence"]
    view = town.get("/api/assessment/months/2026-05", headers=town.ev).json()
    assert [(r["revision"], float(r["total"]), r["status"]) for r in view["revisions"]] == [(1, 70, "signed"), (2, 78, "signed")]
    assert view["revisions"][1]["reason"] == "整改完成，投诉复核"
    # the payments: five months, penalties so far, nothing deferred any more
    pay = town.get("/api/assessment/months", headers=town.creds.headers("leader")).json()
    assert [m["month"] for m in pay["months"]] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    # May (not 优秀, the 4th time) is a breach in both revisions
    assert pay["breaches_signed"] == 0 + 0 + 2 + 2 + 1
    assert Decimal(str(pay["penalties_signed"])) == 5 * PENALTY
    assert pay["deferred_months"] == ["2026-03", "2026-04"]
    assert [float(s["amount"]) for s in pay["stages"]] == [1335995.2, 1335995.2, 667997.6]


def test_vendor_cannot_change_a_score(town, months):
    before = town.get("/api/assessment/months/2026-02", headers=town.ops).json()
    assert before["result"]["total"] == 81.5                    # the vendor reads his assessment
    eid = before["events"][0]["id"]
    for method, path, body in (
            ("POST", "/api/assessment/events", {"month": "2026-02", "rule_code": "complaint", "occurred_at": at(2026, 2, 3)}),
            ("POST", f"/api/assessment/events/{eid}/decision", {"status": "dismissed", "reason": "不认可"}),
            ("POST", "/api/assessment/months/2026-02/compute", {}),
            ("POST", "/api/assessment/months/2026-02/sign", {}),
            ("POST", "/api/assessment/months/2026-02/reassess", {"reason": "申请复核"}),
            ("POST", "/api/assessment/spot-checks", {"found": 3})):
        r = town.request(method, path, headers=town.ops, json=body)
        assert r.status_code == 403, (path, r.status_code, r.text)
    assert town.get("/api/assessment/months/2026-02", headers=town.ops).json() == before
    # nor may he back-date a record, or reach another part's routes
    r = town.post("/api/assessment/faults", headers=town.ops, json={"reported_at": at(2026, 11, 2), "description": "x"})
    assert r.status_code == 403 and r.json()["field"] == "reported_at"
    assert town.get("/api/cases", headers=town.ops).status_code == 403


def test_vendor_records_today(town, months):
    """The phone flow: a staff member linked to his login signs in and out; inspection and fault records."""
    town.creds.headers("ops_staff")
    sql(town, "UPDATE ops_staff SET user_id = (SELECT id FROM app_user WHERE username = 't.ops_staff') WHERE name = '李工'")
    r = town.post("/api/assessment/attendance", headers=town.ops, json={"action": "sign_in"})
    assert r.status_code == 201, r.text
    assert town.post("/api/assessment/attendance", headers=town.ops, json={"action": "sign_in"}).status_code == 409
    assert town.post("/api/assessment/attendance", headers=town.ops, json={"action": "sign_out"}).status_code == 201
    today = service.local_today().isoformat()
    r = town.post("/api/assessment/inspections", headers=town.ops, json={"day": today, "items": [
        {"item_code": "machine_room", "ok": True, "value": "24℃ 45%"}, {"item_code": "network", "ok": False, "note": "专线丢包"}]})
    assert r.status_code == 201 and len(r.json()) == 2
    r = town.post("/api/assessment/inspections", headers=town.ops,
                  json={"day": today, "items": [{"item_code": "db_write", "ok": True}]})
    assert r.status_code == 400 and r.json()["field"] == "items.0.item_code"   # the system's own item
    r = town.post("/api/assessment/faults", headers=town.ops, json={"description": "大屏信号中断"})
    assert r.status_code == 201
    fault = r.json()["id"]
    r = town.patch(f"/api/assessment/faults/{fault}", headers=town.ops, json={"resolved_at": datetime.now(LOCAL).isoformat(),
                                                                            "cause": "HDMI 线松动"})
    assert r.status_code == 200 and r.json()["cause"] == "HDMI 线松动"
    assert town.post("/api/assessment/reports", headers=town.ops,
                     json={"kind": "weekly", "period_start": "2026-11-04"}).json()["field"] == "period_start"


def test_system_inspection_records_its_own_checks(town, months):
    from civicgrid.assessment.inspect import propose_recent, run_checks
    from civicgrid.settings import get_settings

    rows = {r["item_code"]: r for r in run_checks(get_settings(), base_url="http://127.0.0.1:9")}
    assert set(rows) == {"db_write", "disk_space", "backup", "api_latency", "tile_latency", "tls_expiry"}
    assert rows["db_write"]["ok"] and not rows["api_latency"]["ok"]      # nothing listens on port 9
    assert rows["tls_expiry"]["ok"] and "不适用" in rows["tls_expiry"]["value"]
    # the timer's proposals: this month and the last, waiting for the evaluator (none of the test's months)
    today = service.local_today()
    assert set(propose_recent(get_settings())) == {(today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
                                                   today.strftime("%Y-%m")}


def test_report_pdf_and_xlsx_carry_the_same_numbers(town, months, tmp_path):
    from openpyxl import load_workbook

    pdf = town.get("/api/assessment/months/2026-02/report?format=pdf", headers=town.creds.headers("leader"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    xlsx = town.get("/api/assessment/months/2026-02/report?format=xlsx", headers=town.ev)
    assert xlsx.status_code == 200
    ws = load_workbook(BytesIO(xlsx.content))["运维考核记录表"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=4, values_only=True) if r[1]}
    assert rows["总计"][5] == 81.5 and rows["人员考勤"][5] == 8.5 and rows["日常巡检"][4] == 12 and rows["日常巡检"][5] == 0
    assert "综合执法指挥中心运维服务工作报告" in text and "运维考核记录表" in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for name in ("人员考勤", "日常巡检", "工作报告", "用户投诉"):
        row = rows[name]
        at_line = next(i for i, line in enumerate(lines) if f" {name} " in f" {line} ")
        # the 计分点 cell wraps over several lines; the row's numbers sit beside it
        window = " ".join(lines[max(0, at_line - 3):at_line + 4]).split()
        assert f"{row[2]:g}" in window and f"{row[4]:g}" in window and f"{row[5]:g}" in window, (name, row, window)
    total_line = next(line for line in lines if line.startswith("总计"))
    assert total_line.split()[1] == "100" and total_line.split()[-1] == "81.5"
    assert "考核人（签字）" in text and "到岗率 94.0%" in lines and "违约金（元） 0.00" in lines
    assert town.get("/api/assessment/months/2026-09/report", headers=town.ev).status_code == 404
    assert town.get("/api/assessment/months/2026-02/report?format=doc", headers=town.ev).json()["field"] == "format"


def test_backups_district_outbox_and_audit_records(town, months):
    """June, proposed and read in a transaction that is rolled back: a day with a verified backup is not
    flagged, one with an unverified backup is; outbox rows delivered after 2 h (or not yet) are late."""
    with connect(town.url) as conn, conn.transaction(force_rollback=True):
        ok, unverified = (conn.execute(
            "INSERT INTO backup_record (kind, method, started_at, finished_at, ok, size_bytes, checksum) "
            "VALUES ('full', 'pg_dump', %s, %s::timestamptz + interval '4 minutes', true, 1000, repeat('0', 64)) RETURNING id",
            [t, t]).fetchone()["id"] for t in (at(2026, 6, 2, 2), at(2026, 6, 3, 2)))
        conn.execute("INSERT INTO backup_record (kind, method, started_at, finished_at, ok, verifies) "
                     "VALUES ('verify', 'pg_dump', %s, %s, true, %s)", [at(2026, 6, 2, 3), at(2026, 6, 2, 3, 20), ok])
        case = conn.execute("SELECT id FROM cases ORDER BY id LIMIT 1").fetchone()["id"]
        outbox = [conn.execute(
            "INSERT INTO district_outbox (case_id, kind, idempotency_key, payload, created_at, state, delivered_at) "
            "VALUES (%s, 'case.reported', %s, '{}', %s, %s, %s) RETURNING id",
            [case, f"t-{n}", created, "delivered" if delivered else "pending", delivered]).fetchone()["id"]
            for n, (created, delivered) in enumerate(((at(2026, 6, 5, 10), at(2026, 6, 5, 10, 30)),
                                                       (at(2026, 6, 6, 10), at(2026, 6, 6, 13)),
                                                       (at(2026, 6, 7, 10), None)))]
        for reason, locked in (("wrong password", False), ("wrong password", True), ("unknown user", False)):
            conn.execute("INSERT INTO audit_log (at, actor, action, detail) VALUES (%s, 'x', 'login.failure', %s)",
                         [at(2026, 6, 10, 9), json.dumps({"reason": reason, **({"locked_until": "x"} if locked else {})})])
        service.propose(conn, date(2026, 6, 1))
        keys = {r["proposal_key"] for r in conn.execute(
            "SELECT proposal_key FROM assessment_event WHERE month = '2026-06-01' AND rule_code IN ('backup_missing', 'case_late')")}
        backup_days = {k.split(":")[1] for k in keys if k.startswith("backup_missing")}
        assert len(backup_days) == 29 and "2026-06-02" not in backup_days and "2026-06-03" in backup_days
        late = {int(k.rsplit(":", 1)[1]) for k in keys if k.startswith("case_late:outbox")}
        assert outbox[1] in late and outbox[2] in late and outbox[0] not in late
        rec = service.records(conn, date(2026, 6, 1))
        assert {b["id"]: b["verified"] for b in rec["backups"]} == {ok: True, unverified: None}
        day = next(a for a in rec["security_audit"] if a["day"] == date(2026, 6, 10))
        assert (day["failed_logins"], day["lockouts"]) == (3, 1)
        assert {d["id"]: d["on_time"] for d in rec["district"] if d["id"] in outbox} == {
            outbox[0]: True, outbox[1]: False, outbox[2]: False}


def test_event_evidence_must_exist(town, months):
    r = town.post("/api/assessment/events", headers=town.ev, json={
        "month": "2026-06", "rule_code": "complaint", "occurred_at": at(2026, 6, 3), "attachment": "a" * 64})
    assert r.status_code == 400 and r.json()["field"] == "attachment"
    r = town.post("/api/assessment/events", headers=town.ev, json={
        "month": "2026-06", "rule_code": "complaint", "occurred_at": at(2026, 7, 3)})
    assert r.status_code == 400 and r.json()["field"] == "occurred_at"
    r = town.post("/api/assessment/events", headers=town.ev, json={
        "month": "2026-06", "rule_code": "nope", "occurred_at": at(2026, 6, 3)})
    assert r.status_code == 400 and r.json()["field"] == "rule_code"


def test_bad_months(town):
    for month, status in (("2026-13", 400), ("2025-12", 400), ("2099-01", 400), ("nope", 400)):
        r = town.post(f"/api/assessment/months/{month}/compute", headers=town.ev)
        assert r.status_code == status and r.json()["field"] == "month", (month, r.text)
