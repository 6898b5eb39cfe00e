"""The case row as a fold over its events: every event carries the columns it changed in `data.set`.
`replay(events)` rebuilds them; `verify(conn, case_id)` compares with the stored row (a test runs it)."""
from __future__ import annotations

from datetime import datetime

PROJECTED = ("state", "is_closed", "workflow", "workflow_version", "department_code", "filed_at",
             "dispatched_at", "deadline_at", "closed_at", "duplicate_of", "postpone_pending", "urge_count",
             "supervise_count", "rework_count", "self_handled", "step_started_at", "step_warn_at",
             "step_deadline_at", "version", "needs_location", "unit_grid_code", "community_code",
             "responsibility_grid_code", "officer_id")
TIME_FIELDS = {"filed_at", "dispatched_at", "deadline_at", "closed_at", "step_started_at", "step_warn_at",
               "step_deadline_at"}


def _value(name, v):
    if name in TIME_FIELDS and isinstance(v, str):
        return datetime.fromisoformat(v)
    if name == "duplicate_of" and v is not None:
        return int(v)
    return v


def replay(events: list[dict]) -> dict:
    row: dict = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        for k, v in (e["data"] or {}).get("set", {}).items():
            row[k] = _value(k, v)
        if e["to_state"]:
            row["state"] = e["to_state"]
        row["version"] = e["seq"]
    return row


def verify(conn, case_id: int) -> list[str]:
    """Differences between the stored row and the replay of its events (empty when they agree)."""
    case = conn.execute("SELECT * FROM cases WHERE id = %s", [case_id]).fetchone()
    events = conn.execute("SELECT seq, to_state, data FROM case_event WHERE case_id = %s ORDER BY seq", [case_id]).fetchall()
    rebuilt = replay(events)
    return [f"{k}: row {case[k]!r} != replay {rebuilt.get(k)!r}" for k in PROJECTED if case[k] != rebuilt.get(k)]
