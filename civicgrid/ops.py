"""Operations beside the app: the daily backup (and its verification) on the server's own timer.

Every server process runs the check; an advisory lock in PostgreSQL lets one of them do the work
(civicgrid.db.backup.backup_if_due), so several workers or hosts never back up twice.
"""
from __future__ import annotations

import contextlib
import logging
import threading

log = logging.getLogger("civicgrid.ops")

FIRST_CHECK_S = 60       # not while the server is still starting
CHECK_EVERY_S = 15 * 60


def _backup_loop(settings, stop: threading.Event) -> None:
    from civicgrid.db.backup import backup_if_due

    wait = FIRST_CHECK_S
    while not stop.wait(wait):
        wait = CHECK_EVERY_S
        try:
            done = backup_if_due(settings)
        except Exception:   # a failed backup is recorded; the timer tries again next time
            log.exception("daily backup failed")
            continue
        if done:
            manifest, result = done
            log.info("daily backup %s made, verification %s", manifest["label"], "ok" if result["ok"] else "FAILED")


@contextlib.asynccontextmanager
async def lifespan(state):
    stop = threading.Event()
    if state.settings.backup_interval_hours > 0:
        threading.Thread(target=_backup_loop, args=(state.settings, stop), name="daily-backup", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
