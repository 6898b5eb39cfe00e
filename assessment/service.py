"""The monthly assessment (运维考核) on a connection: proposals, computation, sign-off, re-assessment
and what the pages and the report read. The API (api.py), the CLI and the tests call these; the
rules are data (migration 0930: assessment_contract, _item, _rule, _grade, _stage, _report_kind).

A month is a local (Asia/Shanghai) calendar month, given as its first day. Its result has
revisions: revision 1 is computed (and recomputed, while a draft) from the confirmed events; a
signed revision is never changed again — a re-assessment adds the next revision (with its reason),
which is a draft until signed in turn. Records and events of a month whose current revision is
signed are locked (a trigger refuses changes; the API answers 409 first).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from civicgrid.db import load_sql
from civicgrid.errors import Conflict, InvalidInput, NotFound

PACKAGE = "civicgrid.assessment"
LOCAL = ZoneInfo("Asia/Shanghai")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(LOCAL).date()


def parse_month(raw: str | None, field: str = "month") -> date:
    m = MONTH_RE.match(raw or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(f"{field} must be a month as YYYY-MM, e.g. 2026-11", field=field)
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_text(month: date) -> str:
    return month.strftime("%Y-%m")


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def check_assessable(conn, month: date, now: datetime | None = None, field: str = "month") -> None:
    """A month of the contract that has begun."""
    starts = conn.execute("SELECT starts_on FROM assessment_contract").fetchone()["starts_on"]
    if month < starts:
        raise InvalidInput(f"{field}: the contract's assessment starts with {month_text(starts)}", field=field)
    if month > local_today(now):
        raise InvalidInput(f"{field}: {month_text(month)} has not begun", field=field)


def revisions(conn, month: date) -> list[dict]:
    return conn.execute("SELECT * FROM assessment_result WHERE month = %s ORDER BY revision", [month]).fetchall()


def locked(conn, month: date) -> bool:
    return conn.execute("SELECT assessment_month_locked(%s) AS locked", [month]).fetchone()["locked"]


def check_unlocked(conn, month: date) -> None:
    if locked(conn, month):
        raise Conflict(f"the assessment of {month_text(month)} is signed off; changes need a re-assessment",
                       field="month")


def _exists(conn, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL AS e", [table]).fetchone()["e"]


def propose(conn, month: date, now: datetime | None = None) -> dict:
    """Merge what the system sees in its records into the month's proposed events (idempotent)."""
    now = now or datetime.now(timezone.utc)
    args = {"month": month, "today": local_today(now), "now": now}
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS finding (rule_code text, count integer, occurred_at timestamptz, "
                 "proposal_key text, evidence jsonb) ON COMMIT DELETE ROWS")
    conn.execute("DELETE FROM finding")
    conn.execute(load_sql(PACKAGE, "propose_records.sql"), args)
    if _exists(conn, "backup_record"):
        conn.execute(load_sql(PACKAGE, "propose_backup.sql"), args)
    # the district exchange's outbox once it exists, the cases' own district channel until then
    conn.execute(load_sql(PACKAGE, "propose_outbox.sql" if _exists(conn, "district_outbox")
                          else "propose_district_cases.sql"), args)
    return conn.execute(load_sql(PACKAGE, "merge_findings.sql"), args).fetchone()


def _lock_month(conn, month: date) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('assessment:' || %s))", [month_text(month)])


def compute(conn, month: date, actor: str, now: datetime | None = None) -> dict:
    """Propose, then (re)compute the month's draft revision (revision 1 if none yet)."""
    check_assessable(conn, month, now)
    _lock_month(conn, month)
    revs = revisions(conn, month)
    current = revs[-1] if revs else None
    if current and current["status"] == "signed":
        raise Conflict(f"the assessment of {month_text(month)} is signed off; start a re-assessment to change it",
                       field="month")
    propose(conn, month, now)
    first_grade = revs[0]["grade"] if len(revs) > 1 else None
    row = conn.execute(load_sql(PACKAGE, "compute.sql"), {"month": month, "first_grade": first_grade}).fetchone()
    values = {**row, "items": Jsonb(row["items"]), "warnings": Jsonb(row["warnings"]), "actor": actor, "month": month}
    if current:
        return conn.execute(
            "UPDATE assessment_result SET items = %(items)s, total = %(total)s, zeroed_by = %(zeroed_by)s, "
            "grade = %(grade)s, attendance_rate = %(attendance_rate)s, warnings = %(warnings)s, breaches = %(breaches)s, "
            "penalty = %(penalty)s, consequence = %(consequence)s, deferred = %(deferred)s, released = %(released)s, "
            "computed_by = %(actor)s, computed_at = now() WHERE id = %(id)s RETURNING *",
            {**values, "id": current["id"]}).fetchone()
    return conn.execute(
        "INSERT INTO assessment_result (month, revision, status, items, total, zeroed_by, grade, attendance_rate, "
        "warnings, breaches, penalty, consequence, deferred, released, computed_by) VALUES (%(month)s, 1, 'draft', "
        "%(items)s, %(total)s, %(zeroed_by)s, %(grade)s, %(attendance_rate)s, %(warnings)s, %(breaches)s, "
        "%(penalty)s, %(consequence)s, %(deferred)s, %(released)s, %(actor)s) RETURNING *", values).fetchone()


def sign(conn, month: date, actor: str, now: datetime | None = None) -> dict:
    """Recompute the draft and sign it (考核员签字); every proposal must have been decided."""
    result = compute(conn, month, actor, now)
    open_ = conn.execute("SELECT count(*) AS n FROM assessment_event WHERE month = %s AND status = 'proposed'",
                         [month]).fetchone()["n"]
    if open_:
        raise Conflict(f"{open_} proposed events of {month_text(month)} are not decided yet (confirm or dismiss each)",
                       field="events")
    return conn.execute("UPDATE assessment_result SET status = 'signed', signed_by = %s, signed_at = now() "
                        "WHERE id = %s RETURNING *", [actor, result["id"]]).fetchone()


def reassess(conn, month: date, actor: str, reason: str, now: datetime | None = None) -> dict:
    """After rectification (整改): a new draft revision of a signed month, computed at once."""
    _lock_month(conn, month)
    revs = revisions(conn, month)
    if not revs:
        raise NotFound(f"{month_text(month)} has not been assessed", field="month")
    current = revs[-1]
    if current["status"] != "signed":
        raise Conflict(f"revision {current['revision']} of {month_text(month)} is still a draft; change and sign it",
                       field="month")
    conn.execute(
        "INSERT INTO assessment_result (month, revision, status, items, total, zeroed_by, grade, attendance_rate, "
        "warnings, breaches, penalty, consequence, deferred, released, reason, computed_by) "
        "SELECT month, revision + 1, 'draft', items, total, zeroed_by, grade, attendance_rate, warnings, breaches, "
        "penalty, consequence, deferred, released, %s, %s FROM assessment_result WHERE id = %s",
        [reason, actor, current["id"]])
    return compute(conn, month, actor, now)


# ---------------------------------------------------------------- events

def add_event(conn, month: date, rule_code: str, count: int, occurred_at: datetime, note: str,
              evidence: dict, actor: str) -> dict:
    """An event the evaluator saw himself (a complaint, a leak, a conduct breach …): confirmed at once."""
    check_unlocked(conn, month)
    if occurred_at.astimezone(LOCAL).date().replace(day=1) != month:
        raise InvalidInput(f"occurred_at must lie in {month_text(month)}", field="occurred_at")
    if not conn.execute("SELECT 1 FROM assessment_rule WHERE code = %s", [rule_code]).fetchone():
        raise InvalidInput(f"rule_code: no rule {rule_code!r}", field="rule_code")
    return conn.execute(
        "INSERT INTO assessment_event (month, rule_code, count, occurred_at, status, source, evidence, note, "
        "created_by, decided_by, decided_at) VALUES (%s, %s, %s, %s, 'confirmed', 'manual', %s, %s, %s, %s, now()) "
        "RETURNING *", [month, rule_code, count, occurred_at, Jsonb(evidence), note, actor, actor]).fetchone()


def decide(conn, event_id: int, status: str, reason: str, actor: str) -> dict:
    event = conn.execute("SELECT * FROM assessment_event WHERE id = %s FOR UPDATE", [event_id]).fetchone()
    if event is None:
        raise NotFound(f"no event {event_id}", field="id")
    check_unlocked(conn, event["month"])
    return conn.execute("UPDATE assessment_event SET status = %s, reason = %s, decided_by = %s, decided_at = now() "
                        "WHERE id = %s RETURNING *", [status, reason, actor, event_id]).fetchone()


def events(conn, month: date) -> list[dict]:
    return conn.execute(
        "SELECT e.*, to_char(e.month, 'YYYY-MM') AS month, r.name AS rule_name, r.item_code, i.name AS item_name, "
        "r.points, r.zero_at, r.warning FROM assessment_event e JOIN assessment_rule r ON r.code = e.rule_code "
        "LEFT JOIN assessment_item i ON i.code = r.item_code WHERE e.month = %s "
        "ORDER BY e.status = 'proposed' DESC, e.occurred_at, e.id", [month]).fetchall()


# ---------------------------------------------------------------- what pages and reports read

def config(conn) -> dict:
    one = lambda sql: conn.execute(sql).fetchall()
    contract = conn.execute("SELECT * FROM assessment_contract").fetchone()
    return {
        "contract": {k: (str(v) if isinstance(v, timedelta) else v) for k, v in contract.items() if k != "id"},
        "items": one("SELECT * FROM assessment_item ORDER BY position"),
        "rules": one("SELECT * FROM assessment_rule ORDER BY position"),
        "grades": one("SELECT * FROM assessment_grade ORDER BY min_score DESC"),
        "stages": one("SELECT * FROM assessment_stage ORDER BY position"),
        "report_kinds": one("SELECT code, name FROM assessment_report_kind ORDER BY period"),
        "check_items": one("SELECT * FROM ops_check_item WHERE active ORDER BY position"),
    }


def month_view(conn, month: date) -> dict:
    revs = revisions(conn, month)
    return {"month": month_text(month), "result": _result(revs[-1]) if revs else None,
            "revisions": [_result(r) for r in revs], "locked": bool(revs) and revs[-1]["status"] == "signed",
            "events": events(conn, month)}


def _result(row: dict) -> dict:
    return {**row, "month": month_text(row["month"])}


def payments(conn) -> dict:
    """Every month's current revision, the contract's stages, penalties so far and deferrals."""
    contract = conn.execute("SELECT total, breach_rate FROM assessment_contract").fetchone()
    months = conn.execute(load_sql(PACKAGE, "payments.sql")).fetchall()
    stages = conn.execute("SELECT code, name, share, condition, round(share * %s, 2) AS amount "
                          "FROM assessment_stage ORDER BY position", [contract["total"]]).fetchall()
    signed = [m for m in months if m["status"] == "signed"]
    return {"total": contract["total"], "penalty_per_breach": round(contract["total"] * contract["breach_rate"], 2),
            "stages": stages, "months": months,
            "penalties_signed": sum((m["penalty"] for m in signed), start=0),
            "breaches_signed": sum(m["breaches"] for m in signed),
            "deferred_months": [m["month"] for m in months if m["deferred"]]}


def records(conn, month: date) -> dict:
    """The six records of the month's work report (月度运维服务工作报告)."""
    span = {"m": month, "n": next_month(month)}
    q = lambda sql, args=span: conn.execute(sql, args).fetchall()
    local_span = ("%(m)s::timestamp AT TIME ZONE 'Asia/Shanghai'", "%(n)s::timestamp AT TIME ZONE 'Asia/Shanghai'")
    out = {
        "month": month_text(month),
        "staff": q("SELECT s.*, (SELECT count(*) FROM ops_roster r WHERE r.staff_id = s.id AND r.day >= %(m)s "
                   "AND r.day < %(n)s) AS rostered, (SELECT count(*) FROM ops_roster r JOIN ops_attendance a "
                   "USING (staff_id, day) WHERE r.staff_id = s.id AND r.day >= %(m)s AND r.day < %(n)s) AS present "
                   "FROM ops_staff s ORDER BY s.is_lead DESC, s.id"),
        "attendance": q("SELECT a.*, s.name FROM ops_attendance a JOIN ops_staff s ON s.id = a.staff_id "
                        "WHERE a.day >= %(m)s AND a.day < %(n)s ORDER BY a.day, s.id"),
        "spot_checks": q("SELECT * FROM ops_spot_check WHERE checked_at >= {} AND checked_at < {} "
                         "ORDER BY checked_at".format(*local_span)),
        "lead_absences": q("SELECT * FROM ops_lead_absence WHERE starts_on >= %(m)s AND starts_on < %(n)s "
                           "ORDER BY starts_on"),
        "inspections": q("SELECT i.*, c.name AS item_name, c.section FROM ops_inspection i JOIN ops_check_item c "
                         "ON c.code = i.item_code WHERE i.day >= %(m)s AND i.day < %(n)s ORDER BY i.day, c.position"),
        "faults": q("SELECT * FROM ops_fault WHERE reported_at >= {} AND reported_at < {} "
                    "ORDER BY reported_at".format(*local_span)),
        "security_audit": q(load_sql(PACKAGE, "security_audit.sql"), {"month": month}),
        "reports": q("SELECT r.*, ((r.period_start + k.period)::timestamp + k.due_after) AT TIME ZONE 'Asia/Shanghai' "
                     "AS due_at, k.name AS kind_name FROM ops_report r JOIN assessment_report_kind k ON k.code = r.kind "
                     "WHERE r.period_start + k.period > %(m)s AND r.period_start + k.period <= %(n)s "
                     "ORDER BY r.period_start, r.kind"),
        "backups": [], "district": [],
    }
    if _exists(conn, "backup_record"):
        out["backups"] = q("SELECT b.id, b.kind, b.method, b.label, b.started_at, b.finished_at, b.ok, b.size_bytes, "
                           "b.checksum, (SELECT bool_or(v.ok) FROM backup_record v WHERE v.verifies = b.id) AS verified "
                           "FROM backup_record b WHERE b.kind <> 'verify' AND b.started_at >= {} AND b.started_at < {} "
                           "ORDER BY b.started_at".format(*local_span))
    if _exists(conn, "district_outbox"):
        out["district"] = q("SELECT o.id, o.case_id, c.case_number, o.kind, o.created_at, o.delivered_at, o.state, "
                            "o.delivered_at IS NOT NULL AND o.delivered_at - o.created_at <= k.district_report_limit "
                            "AS on_time FROM district_outbox o LEFT JOIN cases c ON c.id = o.case_id, assessment_contract k "
                            "WHERE o.created_at >= {} AND o.created_at < {} ORDER BY o.created_at".format(*local_span))
    else:
        out["district"] = q("SELECT c.id AS case_id, c.case_number, 'received' AS kind, c.reported_at AS created_at, "
                            "c.filed_at AS delivered_at, CASE WHEN c.filed_at IS NULL THEN 'pending' ELSE 'filed' END "
                            "AS state, c.filed_at IS NOT NULL AND c.filed_at - c.reported_at <= k.district_report_limit "
                            "AS on_time FROM cases c, assessment_contract k WHERE c.channel = 'district' "
                            "AND c.reported_at >= {} AND c.reported_at < {} ORDER BY c.reported_at".format(*local_span))
    return out
