"""Periods, revisions and their snapshots (评价周期、修订、快照).

- `period_bounds(kind, code)` the [start, end) of 2026-05, 2026-Q2, 2026 in the town's time zone
- `ensure_period(conn, kind, code | start/end)` the period row, created on first use
- `compute(conn, period_id, reason)` a new revision: every entity kind's counts with the cases
  behind them (one set-based statement, evaluation/sql/members.sql), scored in Python by the method
  in force, ranked, written once (the rows are immutable, migration 0900)
- `publish(conn, revision_id)` stamps a revision
- `close_due(conn, now)` the timer: every month (and quarter, year) that has ended and has no
  revision yet is computed, as revision 1 with the reason 期末自动结算
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from civicgrid.db import load_sql
from civicgrid.errors import Conflict, InvalidInput, NotFound
from civicgrid.evaluation import method as methods

PACKAGE = "civicgrid.evaluation"
TZ = ZoneInfo("Asia/Shanghai")
AUTO_REASON = "期末自动结算"
PERIOD_CODES = {"monthly": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
                "yearly": re.compile(r"^(\d{4})$")}
KIND_NAMES = {"monthly": "月度", "quarterly": "季度", "yearly": "年度", "custom": "自定义"}


def _month(y: int, m: int) -> datetime:
    return datetime(y + (m - 1) // 12, (m - 1) % 12 + 1, 1, tzinfo=TZ)


def period_bounds(kind: str, code: str) -> tuple[datetime, datetime, str]:
    m = PERIOD_CODES.get(kind, re.compile("$^")).match(code or "")
    if not m:
        examples = {"monthly": "2026-05", "quarterly": "2026-Q2", "yearly": "2026"}
        raise InvalidInput(f"a {kind} period code looks like {examples.get(kind, '2026-05')}", field="code")
    y = int(m.group(1))
    if kind == "monthly":
        mo = int(m.group(2))
        return _month(y, mo), _month(y, mo + 1), f"{y}年{mo}月"
    if kind == "quarterly":
        q = int(m.group(2))
        return _month(y, 3 * q - 2), _month(y, 3 * q + 1), f"{y}年第{q}季度"
    return _month(y, 1), _month(y + 1, 1), f"{y}年"


def ensure_period(conn, kind: str, code: str | None = None, start: datetime | None = None, end: datetime | None = None,
                  name: str | None = None) -> dict:
    if kind == "custom":
        if not code or not re.fullmatch(r"[0-9A-Za-z_-]{1,40}", code):
            raise InvalidInput("a custom period needs a code of letters, digits, - or _ (at most 40)", field="code")
        if start is None or end is None:
            raise InvalidInput("a custom period needs start and end", field="start" if start is None else "end")
        if end <= start:
            raise InvalidInput("end must be after start", field="end")
        if end - start > timedelta(days=1100):
            raise InvalidInput("a period may span at most 1100 days", field="end")
        name = name or code
    else:
        start, end, default_name = period_bounds(kind, code or "")
        name = name or default_name
    row = conn.execute("SELECT * FROM evaluation_period WHERE kind = %s AND code = %s", [kind, code]).fetchone()
    if row is None:
        row = conn.execute("""INSERT INTO evaluation_period (kind, code, name, start_at, end_at) VALUES (%s, %s, %s, %s, %s)
                              ON CONFLICT (kind, code) DO NOTHING RETURNING *""", [kind, code, name, start, end]).fetchone() \
            or conn.execute("SELECT * FROM evaluation_period WHERE kind = %s AND code = %s", [kind, code]).fetchone()
    elif kind == "custom" and (row["start_at"] != start or row["end_at"] != end):
        raise Conflict(f"custom period {code} exists with other dates", field="code")
    return row


def period(conn, period_id: int) -> dict:
    row = conn.execute("SELECT * FROM evaluation_period_latest WHERE id = %s", [period_id]).fetchone()
    if row is None:
        raise NotFound(f"evaluation period {period_id} not found", field="id")
    return row


def members(conn, start: datetime, end: datetime, cfg: dict) -> list[dict]:
    q = load_sql("civicgrid.processes", "evaluation_facts.sql") + load_sql(PACKAGE, "members.sql")
    acts = {k: cfg[k]["actions"] for k in ("intake_operator", "shift_leader", "dispatcher")}
    params = {"start": start, "end": end, "public_channels": cfg["public_channels"],
              "verify_limit": timedelta(minutes=cfg["verify_limit_minutes"]),
              "check_limit": timedelta(minutes=cfg["check_limit_minutes"]),
              "accept_actions": acts["intake_operator"]["accept"],
              "verify_dispatch_actions": acts["intake_operator"]["verify_dispatch"],
              "check_dispatch_actions": acts["intake_operator"]["check_dispatch"],
              "file_actions": acts["shift_leader"]["file"], "cancelled_states": cfg["shift_leader"]["cancelled_states"],
              "dispatch_actions": acts["dispatcher"]["dispatch"], "misdispatch_actions": acts["dispatcher"]["misdispatch"]}
    return conn.execute(q, params).fetchall()


def evaluate(conn, start: datetime, end: datetime, cfg: dict) -> tuple[dict[str, list[dict]], list[dict]]:
    """({kind: scored and ranked rows}, member rows) for [start, end) — nothing written."""
    found = members(conn, start, end, cfg)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for m in found:
        counts.setdefault((m["kind"], m["code"]), {})[m["indicator"]] = len(m["case_ids"])
    names: dict[tuple[str, str], str] = {}
    for e in conn.execute(load_sql(PACKAGE, "entities.sql"), {"start": start, "end": end}):
        names[(e["kind"], e["code"])] = e["name"]
    for key in counts:
        names.setdefault(key, key[1])
    out: dict[str, list[dict]] = {}
    for kind, (_, indicators, _) in methods.KINDS.items():
        rows = []
        for (k, code), name in names.items():
            if k == kind:
                got = counts.get((k, code), {})
                rows.append({"code": code, "name": name, **{i: got.get(i, 0) for i in indicators}})
        rows.sort(key=lambda r: r["code"])
        methods.score(kind, rows, cfg)
        ranked = sorted(rows, key=lambda r: -r["score"])
        for i, r in enumerate(ranked):   # ties share the better rank (1, 2, 2, 4)
            r["rank"] = ranked[i - 1]["rank"] if i and ranked[i - 1]["score"] == r["score"] else i + 1
        out[kind] = rows
    return out, found


def compute(conn, period_id: int, reason: str | None = None) -> dict:
    """A new revision of the period; the first needs no reason, a recomputation does."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('evaluation_period'), %s::int)", [period_id])
    p = period(conn, period_id)
    if p["revision"] is not None and not (reason and reason.strip()):
        raise InvalidInput("a recomputation needs a reason (修订原因)", field="reason")
    version, cfg = methods.current(conn)
    results, found = evaluate(conn, p["start_at"], p["end_at"], cfg)
    rev = conn.execute("""INSERT INTO evaluation_revision (period_id, revision, method_version, reason)
                          VALUES (%s, %s, %s, %s) RETURNING *""",
                       [period_id, (p["revision"] or 0) + 1, version, (reason or "").strip() or "首次计算"]).fetchone()
    result_rows = []
    for kind, rows in results.items():
        for r in rows:
            ind = {k: v for k, v in r.items() if k not in ("code", "name", "score", "grade", "rank", "geom")}
            result_rows.append({"kind": kind, "code": r["code"], "name": r["name"], "indicators": ind,
                                "score": r["score"], "grade": r["grade"], "rank": r["rank"]})
    conn.execute("""INSERT INTO evaluation_result (revision_id, entity_kind, entity_code, entity_name, indicators, score, grade, rank)
                    SELECT %(rev)s, x.kind, x.code, x.name, x.indicators, x.score, x.grade, x.rank
                    FROM jsonb_to_recordset(%(rows)s) AS x (kind text, code text, name text, indicators jsonb,
                                                            score numeric, grade text, rank int)""",
                 {"rev": rev["id"], "rows": Jsonb(result_rows)})
    with conn.cursor() as cur:
        with cur.copy("COPY evaluation_case (revision_id, entity_kind, entity_code, indicator, case_ids) FROM STDIN") as copy:
            for m in found:
                copy.write_row((rev["id"], m["kind"], m["code"], m["indicator"], m["case_ids"]))
    return dict(rev)


def publish(conn, revision_id: int) -> dict:
    rev = conn.execute("SELECT * FROM evaluation_revision WHERE id = %s FOR UPDATE", [revision_id]).fetchone()
    if rev is None:
        raise NotFound(f"revision {revision_id} not found", field="revision")
    if rev["published_at"] is not None:
        raise Conflict(f"revision {rev['revision']} is published already", field="revision")
    return conn.execute("UPDATE evaluation_revision SET published_at = now(), published_by = cg_actor() WHERE id = %s RETURNING *",
                        [revision_id]).fetchone()


def due_periods(now: datetime) -> list[tuple[str, str]]:
    """The month, quarter and year that ended most recently before `now` (local time)."""
    local = now.astimezone(TZ)
    y, m = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    out = [("monthly", f"{y}-{m:02d}")]
    if m % 3 == 0:
        out.append(("quarterly", f"{y}-Q{m // 3}"))
    if m == 12:
        out.append(("yearly", f"{y}"))
    return out


def close_due(conn, now: datetime | None = None) -> list[dict]:
    """The timer's work: compute the periods that ended and have no revision (idempotent)."""
    now = now or datetime.now(TZ)
    made = []
    for kind, code in due_periods(now):
        p = ensure_period(conn, kind, code)
        if p["end_at"] <= now and period(conn, p["id"])["revision"] is None:
            made.append(compute(conn, p["id"], AUTO_REASON))
    return made
