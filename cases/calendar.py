"""Working calendar (工作日历): time limits count working minutes only.

Working periods per day come from the `work_calendar` table; which days are working days comes
from `calendar_override` (local decisions) first, then `chinese-calendar` (public holidays and the
make-up working Saturdays/Sundays, 调休), then Monday–Friday for years chinese-calendar does not know.
A working day as a time-limit unit is the length of one full working day (e.g. 7.5 h).
`step_times` and `deadline_from` turn a workflow's time limits into a step's yellow and red marks,
for intake and transitions alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from civicgrid.errors import InvalidInput

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|wd)\s*$")
WARN_SHARE = 0.8   # a step turns yellow when 80 % of its working time has passed


def parse_duration(text: str, field_name: str = "time_limit") -> tuple[float, str]:
    """'30m' / '4h' / '2d' → (amount, unit) with unit in {'minute', 'hour', 'day'}."""
    m = DURATION_RE.match(str(text))
    if not m:
        raise InvalidInput(f"{text!r} is not a duration like 30m, 4h or 2d (working time)", field=field_name)
    amount, unit = float(m.group(1)), m.group(2)
    if amount <= 0:
        raise InvalidInput(f"{text!r}: a duration must be positive", field=field_name)
    return amount, {"m": "minute", "min": "minute", "h": "hour", "d": "day", "wd": "day"}[unit]


@dataclass
class WorkCalendar:
    periods: list[tuple[time, time]] = field(default_factory=lambda: [(time(8, 30), time(12)), (time(13, 30), time(17, 30))])
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    overrides: dict[date, bool] = field(default_factory=dict)
    # chinese_calendar scans its holiday table on every call (~0.4 ms): each day is asked once
    _known: dict[date, bool] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_rows(cls, cal_row: dict | None, override_rows: list[dict]) -> "WorkCalendar":
        cal = cls()
        if cal_row:
            cal.periods = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in cal_row["periods"]]
            cal.tz = ZoneInfo(cal_row["timezone"])
        cal.overrides = {r["day"]: r["is_workday"] for r in override_rows}
        return cal

    @property
    def day_minutes(self) -> float:
        return sum((datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 60
                   for a, b in self.periods)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        known = self._known.get(day)
        if known is None:
            try:
                known = chinese_calendar.is_workday(day)
            except NotImplementedError:  # a year the library does not cover yet
                known = day.weekday() < 5
            self._known[day] = known
        return known

    def to_minutes(self, amount: float, unit: str) -> float:
        return amount * {"minute": 1, "hour": 60, "day": self.day_minutes}[unit]

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant when `minutes` working minutes have passed after `start`."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        local = start.astimezone(self.tz)
        remaining = timedelta(minutes=minutes)
        day = local.date()
        for _ in range(3660):  # ten years of days is more than any time limit
            if self.is_workday(day):
                for a, b in self.periods:
                    p_start = datetime.combine(day, a, self.tz)
                    p_end = datetime.combine(day, b, self.tz)
                    if p_end <= local:
                        continue
                    begin = max(p_start, local)
                    available = p_end - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
        raise InvalidInput("time limit too long for the working calendar", field="time_limit")

    def working_minutes(self, a: datetime, b: datetime) -> float:
        """Working minutes between two instants (0 when b <= a)."""
        if b <= a:
            return 0.0
        a, b = a.astimezone(self.tz), b.astimezone(self.tz)
        total = 0.0
        day = a.date()
        while day <= b.date():
            if self.is_workday(day):
                for p, q in self.periods:
                    s = max(datetime.combine(day, p, self.tz), a)
                    e = min(datetime.combine(day, q, self.tz), b)
                    if e > s:
                        total += (e - s).total_seconds() / 60
            day += timedelta(days=1)
        return total


def load_calendar(conn, code: str = "default") -> WorkCalendar:
    row = conn.execute("SELECT periods, timezone FROM work_calendar WHERE code = %s", [code]).fetchone()
    overrides = conn.execute("SELECT day, is_workday FROM calendar_override").fetchall()
    return WorkCalendar.from_rows(row, overrides)


def step_times(cal: WorkCalendar, wf, state: str, category: str | None, urgency: str | None,
               start: datetime) -> dict:
    """Entering `state` of workflow `wf` at `start`: when the step started, when it turns yellow
    (80 % of its time limit) and when it is due; no deadline for closed states or states without a limit."""
    limit = wf.time_limit(state, category, urgency)
    if limit is None or wf.is_closed(state):
        return {"step_started_at": start, "step_warn_at": None, "step_deadline_at": None}
    minutes = cal.to_minutes(*limit)
    return {"step_started_at": start, "step_warn_at": cal.add(start, minutes * WARN_SHARE),
            "step_deadline_at": cal.add(start, minutes)}


def deadline_from(cal: WorkCalendar, start: datetime, deadline: datetime) -> dict:
    """A step due at a given instant (an explicit deadline, an extension): its yellow mark at 80 %
    of the working time from `start`; at the deadline itself when no working time lies between."""
    total = cal.working_minutes(start, deadline)
    return {"step_deadline_at": deadline,
            "step_warn_at": cal.add(start, total * WARN_SHARE) if total else deadline}


def iso(value):
    """Datetimes as ISO 8601 text (event data, answers); anything else as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


class WorkClock:
    """Signed working time from now to many deadlines at once (an inbox of a thousand cases): whole
    days come from a per-day prefix sum of working minutes, only the two partial days are walked."""

    def __init__(self, cal: WorkCalendar, now: datetime):
        self.cal, self.now = cal, now
        self._base: date | None = None
        self._prefix: list[float] = []

    def _cumulative(self, day: date) -> float:
        """Working minutes of the whole days from the table's first day up to (not including) `day`."""
        if self._base is None or day < self._base:
            # start a month before today (or at the oldest deadline asked): later days extend it
            self._base = min(day, self.now.astimezone(self.cal.tz).date() - timedelta(days=30))
            self._prefix = [0.0]
        need = (day - self._base).days
        while len(self._prefix) <= need:
            d = self._base + timedelta(days=len(self._prefix) - 1)
            self._prefix.append(self._prefix[-1] + (self.cal.day_minutes if self.cal.is_workday(d) else 0.0))
        return self._prefix[need]

    def _minutes(self, a: datetime, b: datetime) -> float:
        da, db = a.astimezone(self.cal.tz).date(), b.astimezone(self.cal.tz).date()
        if (db - da).days < 2:
            return self.cal.working_minutes(a, b)
        first_end = datetime.combine(da + timedelta(days=1), time(0), self.cal.tz)
        last_start = datetime.combine(db, time(0), self.cal.tz)
        whole_from = self._cumulative(da + timedelta(days=1))   # the earlier day first: it may move the table's start
        whole = self._cumulative(db) - whole_from
        return self.cal.working_minutes(a, first_end) + whole + self.cal.working_minutes(last_start, b)

    def remaining_seconds(self, deadline: datetime | None) -> int | None:
        """Working seconds left until `deadline`; negative once it has passed (how far over, in working time)."""
        if deadline is None:
            return None
        if deadline >= self.now:
            return round(self._minutes(self.now, deadline) * 60)
        return -round(self._minutes(deadline, self.now) * 60)
