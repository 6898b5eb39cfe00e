"""Timers (时限预警) in the background, surviving restarts: a table-driven scheduler.

Why not procrastinate: the timers are per-case rows that must change together with the case (a
transition voids the old step's timers and writes new ones in the same transaction); a plain table
with FOR UPDATE SKIP LOCKED does that with no second schema outside our migrations and no extra
process model. Several workers (the app's background thread and `civicgrid cases worker`) can run
at once; each due timer fires exactly once.
"""
from __future__ import annotations

import contextlib
import logging
import threading

from civicgrid.db import connect, load_sql

log = logging.getLogger("civicgrid.cases.worker")



def run_once(url: str | None = None, batch: int = 500) -> dict:
    """Fire every due timer once; returns counts."""
    with connect(url) as conn:
        rows = conn.execute(load_sql("civicgrid.cases", "fire_timers.sql"), {"batch": batch}).fetchall()
    fired = sum(1 for r in rows if r["live"])
    return {"fired": fired, "void": len(rows) - fired}


def run_forever(url: str | None = None, interval: float = 15.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            result = run_once(url)
            if result["fired"] or result["void"]:
                log.info("timers: %s", result)
        except Exception:  # keep the loop alive over a database restart
            log.exception("timer run failed; retrying")
        stop.wait(interval)


def start_background(url: str | None = None, interval: float = 15.0) -> threading.Event:
    """Start the worker in a daemon thread (for the app's lifespan); set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(url, interval, stop), name="case-timers", daemon=True).start()
    return stop


@contextlib.asynccontextmanager
async def lifespan(state):
    """The timer worker beside the app (every CIVICGRID_TIMER_INTERVAL seconds), for its lifetime."""
    stop = start_background(state.settings.dsn, interval=state.settings.timer_interval)
    try:
        yield
    finally:
        stop.set()
