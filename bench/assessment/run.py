"""Assessment bench: one month's operations assessment with its work report, on the demo town.

    make bench-assessment      # private cluster under .data/bench, the demo town loaded if empty
    .venv/bin/python bench/assessment/run.py [--month 2026-11] [--rounds 3]

A full month of records is made inside one transaction that is rolled back at the end (the bench
database is left as it was): 3 on-site staff rostered every day with sign-ins, the daily and
security checklists for every day but three (one with items missing), 40 faults and security
events, the weekly and monthly reports, a daily backup with its verification when backup_record
exists, plus the town's own audit log and district cases. Then, per round: the proposals and the
computation (`service.compute`), the report gathered once and built as PDF and as XLSX.
The target (issue: one month's assessment with its report ≤ 3 s) is the sum of the three.
"""
from __future__ import annotations

import argparse
import statistics
import time

from civicgrid.assessment import report, service
from civicgrid.db import connect
from civicgrid.settings import get_settings

RECORDS = """
WITH m AS (SELECT %(month)s::date AS d0, (%(month)s::date + interval '1 month')::date AS d1),
staff AS (INSERT INTO ops_staff (name, title, is_lead) VALUES ('甲', '负责人', true), ('乙', '工程师', false),
          ('丙', '工程师', false) RETURNING id),
days AS (SELECT g::date AS day FROM m, generate_series(m.d0, m.d1 - 1, interval '1 day') g),
roster AS (INSERT INTO ops_roster SELECT s.id, days.day FROM staff s, days RETURNING staff_id, day)
INSERT INTO ops_attendance (staff_id, day, sign_in_at, sign_out_at, recorded_by)
SELECT staff_id, day, day + time '08:25', day + time '17:40', 'bench' FROM roster WHERE extract(day FROM day) <> 9
"""
INSPECTIONS = """
INSERT INTO ops_inspection (day, item_code, ok, source, recorded_by)
SELECT g::date, c.code, random() > 0.05, c.source, 'bench'
FROM generate_series(%(month)s::date, (%(month)s::date + interval '1 month')::date - 1, interval '1 day') g, ops_check_item c
WHERE extract(day FROM g) NOT IN (3, 4, 5) AND NOT (extract(day FROM g) = 6 AND c.code IN ('video', 'network'))
"""
FAULTS = """
INSERT INTO ops_fault (category, reported_at, responded_at, resolved_at, description, recorded_by)
SELECT CASE WHEN n %% 4 = 0 THEN 'security' ELSE 'fault' END, t, t + make_interval(mins => 5 + n), t + make_interval(hours => n %% 6),
       '故障' || n, 'bench'
FROM generate_series(1, 40) n, LATERAL (SELECT (%(month)s::timestamp + make_interval(hours => n * 17)) AT TIME ZONE 'Asia/Shanghai' AS t) x
"""
REPORTS = """
INSERT INTO ops_report (kind, period_start, submitted_at, recorded_by)
SELECT 'weekly', w::date, (w + interval '7 days 9 hours') AT TIME ZONE 'Asia/Shanghai', 'bench'
FROM generate_series(date_trunc('week', %(month)s::timestamp), %(month)s::date + interval '3 weeks', interval '1 week') w
ON CONFLICT DO NOTHING
"""
BACKUPS = """
WITH b AS (
    INSERT INTO backup_record (kind, method, label, started_at, finished_at, ok, size_bytes, checksum)
    SELECT 'full', 'pg_dump', 'bench-' || g::date, t, t + interval '4 minutes', true, 123456789, repeat('ab', 32)
    FROM generate_series(%(month)s::date, (%(month)s::date + interval '1 month')::date - 1, interval '1 day') g,
         LATERAL (SELECT (g + time '02:00') AT TIME ZONE 'Asia/Shanghai' AS t) x
    WHERE extract(day FROM g) <> 17 RETURNING id, finished_at)
INSERT INTO backup_record (kind, method, started_at, finished_at, ok, verifies)
SELECT 'verify', 'pg_dump', finished_at + interval '1 minute', finished_at + interval '9 minutes', true, id FROM b
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--month", default="2026-11")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    month = service.parse_month(args.month)
    times: dict[str, list[float]] = {"propose + compute": [], "gather records": [], "PDF": [], "XLSX": []}
    with connect(get_settings().dsn) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM assessment_result WHERE month = %s", [month])
            for sql in (RECORDS, INSPECTIONS, FAULTS, REPORTS):
                conn.execute(sql, {"month": month})
            if conn.execute("SELECT to_regclass('backup_record') IS NOT NULL AS e").fetchone()["e"]:
                conn.execute(BACKUPS, {"month": month})
            for _ in range(args.rounds):
                t = time.perf_counter()
                result = service.compute(conn, month, "bench")
                times["propose + compute"].append(time.perf_counter() - t)
                t = time.perf_counter()
                data = report.gather(conn, month)
                times["gather records"].append(time.perf_counter() - t)
                t = time.perf_counter()
                pdf = report.build(data, "pdf")
                times["PDF"].append(time.perf_counter() - t)
                t = time.perf_counter()
                xlsx = report.build(data, "xlsx")
                times["XLSX"].append(time.perf_counter() - t)
            events = conn.execute("SELECT count(*) AS n FROM assessment_event WHERE month = %s", [month]).fetchone()["n"]
    print(f"one month's assessment ({args.month}): {events} events proposed, total {result['total']} {result['grade']}, "
          f"PDF {len(pdf) // 1024} KiB, XLSX {len(xlsx) // 1024} KiB; median of {args.rounds} rounds")
    print(f"{'step':<20} {'median s':>9} {'max s':>8}")
    for name, values in times.items():
        print(f"{name:<20} {statistics.median(values):>9.3f} {max(values):>8.3f}")
    total = sum(statistics.median(v) for v in times.values())
    print(f"{'month + report':<20} {total:>9.3f} {'':>8}   target ≤ 3 s: {'met' if total <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
