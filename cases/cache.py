"""What the cases part reads often and changes rarely, held by the app state (civicgrid.state):
compiled workflows and their active versions, the code catalog (changes only by migration) and the
working calendar (re-read every CALENDAR_TTL seconds). Functions that take a `cache` make a fresh
one when none is given (CLI commands, tests)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from civicgrid.cases.calendar import WorkCalendar, load_calendar
from civicgrid.cases.catalog import Catalog
from civicgrid.cases.workflow import WorkflowCache

CALENDAR_TTL = 30.0


@dataclass
class CasesCache:
    workflows: WorkflowCache = field(default_factory=WorkflowCache)
    _catalog: Catalog | None = None
    _calendar: tuple[float, WorkCalendar] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def catalog(self, conn) -> Catalog:
        if self._catalog is None:
            catalog = Catalog(conn)
            with self._lock:
                self._catalog = catalog
        return self._catalog

    def calendar(self, conn) -> WorkCalendar:
        hit = self._calendar
        if hit and time.monotonic() - hit[0] < CALENDAR_TTL:
            return hit[1]
        cal = load_calendar(conn)
        self._calendar = (time.monotonic(), cal)
        return cal

    def forget_calendar(self) -> None:
        """Read the calendar again on next use (after a change to work_calendar or calendar_override)."""
        self._calendar = None
