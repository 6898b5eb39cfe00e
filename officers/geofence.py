"""Geofence alerts (电子围栏告警) beside the server: the scan and the live fan-out.

The detection is the database function `geofence_scan` (db/migrations/0870_geofence.sql): set-based,
incremental (each officer's fixes since his last scan) and idempotent (one open excursion per
officer, one scan at a time). Here:

- `scan(conn, settings)` runs it once with the configured minutes and tolerance;
- `run_forever` is the worker: it LISTENs on `officer_position` (a trigger notifies on every
  insert) and scans at once when fixes arrive, else every CIVICGRID_TIMER_INTERVAL seconds (which
  also ends the excursions whose shift is over);
- `AlertHub` holds one LISTEN connection on `geofence_alert` per server process and hands each
  notification to the open streams (/api/alerts/stream), which read the alert as their caller.

Why LISTEN/NOTIFY rather than a queue: the alert rows and their notifications commit together in
the scan's transaction, any number of server processes (and `civicgrid cases worker`) may scan,
and nothing outside PostgreSQL is needed.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time

import psycopg

from civicgrid.db import connect

log = logging.getLogger("civicgrid.officers.geofence")

SCAN_SQL = "SELECT * FROM geofence_scan(%s, %s)"


def scan(conn, settings) -> dict:
    """One scan (autocommit connection: the function is its own transaction); returns counts."""
    row = conn.execute(SCAN_SQL, [settings.geofence_minutes, settings.geofence_tolerance_m]).fetchone()
    return dict(row)


def _wait_for_fixes(conn, seconds: float, stop: threading.Event) -> None:
    """Until a position notification arrives, `seconds` pass or we are stopped."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        # short slices so a stop request is seen within a second
        if any(True for _ in conn.notifies(timeout=min(1.0, left), stop_after=1)):
            # a burst of inserts (one notification per statement) makes one scan, not many
            list(conn.notifies(timeout=0.2))
            return


def run_forever(settings, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with connect(settings.dsn, autocommit=True) as conn:
                conn.execute("LISTEN officer_position")
                while not stop.is_set():
                    result = scan(conn, settings)
                    if result["raised"] or result["ended"]:
                        log.info("geofence: %s", result)
                    _wait_for_fixes(conn, settings.timer_interval, stop)
        except Exception:  # keep the worker alive over a database restart
            log.exception("geofence scan failed; retrying")
            stop.wait(5)


class AlertHub:
    """Fan-out of `geofence_alert` notifications ({id, event, officer_id}) to the open streams."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=200)
        self.queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.queues.discard(queue)

    def publish(self, note: dict) -> None:
        for queue in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):   # a stalled client loses notes, not the server
                queue.put_nowait(note)

    async def listen(self, dsn: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    await conn.execute("LISTEN geofence_alert")
                    async for note in conn.notifies():
                        try:
                            self.publish(json.loads(note.payload))
                        except ValueError:
                            log.warning("unreadable geofence notification %r", note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("geofence notifications lost; listening again")
                await asyncio.sleep(2)


@contextlib.asynccontextmanager
async def lifespan(state):
    """The scanning worker (a thread) and the notification hub (a task) for the app's lifetime."""
    hub = AlertHub()
    state.extra["geofence_hub"] = hub
    listener = asyncio.create_task(hub.listen(state.settings.dsn), name="geofence-notifications")
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(state.settings, stop), name="geofence-scan", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
