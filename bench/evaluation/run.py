"""Evaluation bench: a year of monthly evaluations (12 months × every entity kind: unit grids,
communities, responsibility grids, departments, officers, 受理员, 值班长, 派遣员) on the demo town,
each as a full revision — the set-based statement with the cases behind every count, scoring and
ranking, the immutable rows written. Target: the year in ≤ 10 s. Everything is rolled back at the
end, so the bench leaves the town as it found it.

    make bench-evaluation        # private cluster under .data/bench, the demo town loaded if empty
    .venv/bin/python bench/evaluation/run.py [--months 12]
"""
from __future__ import annotations

import argparse
import time

from civicgrid.db import connect
from civicgrid.evaluation import compute as comp
from civicgrid.evaluation import method as methods

TARGET_S = 10.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", type=int, default=12)
    args = ap.parse_args()
    with connect() as conn:
        last = conn.execute("SELECT max(at) AS at FROM case_event").fetchone()["at"]
        if last is None:
            raise SystemExit("no cases: load the demo town first (civicgrid demo load)")
        local = last.astimezone(comp.TZ)
        y, m = local.year, local.month
        months = []
        for _ in range(args.months):   # the months before the last event's month, newest first
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
            months.append(f"{y}-{m:02d}")
        months.reverse()
        methods.current(conn)
        print(f"{'month':8} {'cases':>6} {'entities':>8} {'drill rows':>10} {'cases listed':>12} {'seconds':>8}")
        total = 0.0
        for code in months:
            p = comp.ensure_period(conn, "monthly", code)
            t = time.perf_counter()
            rev = comp.compute(conn, p["id"], "bench")
            dt = time.perf_counter() - t
            total += dt
            n = conn.execute("""SELECT (SELECT count(DISTINCT case_id) FROM case_event WHERE at >= %(s)s AND at < %(e)s) AS cases,
                                       (SELECT count(*) FROM evaluation_result WHERE revision_id = %(r)s) AS entities,
                                       (SELECT count(*) FROM evaluation_case WHERE revision_id = %(r)s) AS drill,
                                       (SELECT coalesce(sum(cardinality(case_ids)), 0) FROM evaluation_case
                                        WHERE revision_id = %(r)s) AS listed""",
                             {"s": p["start_at"], "e": p["end_at"], "r": rev["id"]}).fetchone()
            print(f"{code:8} {n['cases']:>6} {n['entities']:>8} {n['drill']:>10} {n['listed']:>12} {dt:>8.2f}")
        conn.rollback()
    verdict = "ok" if total <= TARGET_S else "OVER"
    print(f"{'year':8} {'':>6} {'':>8} {'':>10} {'':>12} {total:>8.2f}   target ≤ {TARGET_S:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
