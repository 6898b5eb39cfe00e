"""Step deadlines for cases that were written without them (bulk loads such as the demo town):
computes step_warn_at / step_deadline_at from each case's workflow and the working calendar and
writes the matching timers. Cases that already have a deadline are left alone."""
from __future__ import annotations

from civicgrid.cases.calendar import load_calendar, step_times
from civicgrid.cases.workflow import WorkflowCache


def backfill(conn) -> int:
    workflows = WorkflowCache()
    cal = load_calendar(conn)
    rows = conn.execute(
        "SELECT id, workflow, coalesce(workflow_version, 1) AS v, state, category_code, urgency, "
        "coalesce(step_started_at, reported_at) AS started, version FROM cases "
        "WHERE NOT is_closed AND step_deadline_at IS NULL").fetchall()
    updates = []
    for r in rows:
        try:
            wf = workflows.get(conn, r["workflow"], r["v"])
        except Exception:  # a workflow this database does not know: leave the case as it is
            continue
        t = step_times(cal, wf, r["state"], r["category_code"], r["urgency"], r["started"])
        if t["step_deadline_at"] is not None:
            updates.append((r["id"], t["step_warn_at"], t["step_deadline_at"], r["version"]))
    with conn.cursor() as cur:
        cur.executemany("UPDATE cases SET step_warn_at = %s, step_deadline_at = %s, "
                        "deadline_at = CASE WHEN state = 'dispatched' THEN coalesce(deadline_at, %s) ELSE deadline_at END "
                        "WHERE id = %s", [(w, d, d, i) for i, w, d, _ in updates])
        cur.executemany("INSERT INTO case_timer (case_id, step_seq, kind, due_at) VALUES (%s, %s, 'warn', %s), "
                        "(%s, %s, 'overdue', %s) ON CONFLICT DO NOTHING",
                        [(i, v, w, i, v, d) for i, w, d, v in updates])
    return len(updates)
