"""Pools that fail fast while the database is down and recover as soon as it is back.

psycopg_pool alone, with the database stopped, keeps a request waiting for the whole pool timeout
(15 s) before a PoolTimeout, and it retries connecting with a doubling delay (1, 2, 4 … 64 s), so a
server recovered 46 s after its database did. Here:

- `DbHealth` is the app's view of the database (up or down, since when), kept by `watch()` in
  civicgrid.health: one probe connection running `SELECT 1` twice a second;
- the pools' `getconn` answers at once with ServiceUnavailable (503 + Retry-After) while the
  database is down, and a request already waiting for a connection gives up within WAIT_SLICE_S
  of the outage being noticed;
- connections are checked before use (`check_connection`), and reconnection attempts are retried
  at most RECONNECT_MAX_DELAY_S apart, so the first request after recovery gets a live connection.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from civicgrid.errors import ServiceUnavailable

WAIT_SLICE_S = 0.5
RECONNECT_MAX_DELAY_S = 1.0
RETRY_AFTER_S = 5


@dataclass
class DbHealth:
    down: bool = False
    since: float = field(default_factory=time.monotonic)   # when the current state began
    last_error: str | None = None
    outages: int = 0

    def mark(self, down: bool, error: str | None = None) -> bool:
        """Record the state; True when it changed."""
        if down == self.down:
            return False
        self.down, self.since = down, time.monotonic()
        if down:
            self.outages += 1
            self.last_error = error
        return True

    def refuse(self) -> ServiceUnavailable:
        return ServiceUnavailable("the database is unavailable; try again shortly", retry_after=RETRY_AFTER_S)


class _CappedAttempt(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY_S)


class HealthPool(ConnectionPool):
    """A ConnectionPool that knows whether the database is up (see the module docstring)."""

    def __init__(self, *args, health: DbHealth | None = None, **kwargs):
        self.health = health
        kwargs.setdefault("check", ConnectionPool.check_connection)
        super().__init__(*args, **kwargs)

    def getconn(self, timeout: float | None = None):
        health = self.health
        if health is None:
            return super().getconn(timeout)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if health.down:
                raise health.refuse()
            left = deadline - time.monotonic()
            try:
                return super().getconn(max(0.01, min(WAIT_SLICE_S, left)))
            except PoolTimeout:
                if left <= WAIT_SLICE_S and not health.down:
                    raise

    def _add_connection(self, attempt, growing: bool = False) -> None:
        super()._add_connection(attempt or _CappedAttempt(timeout=self.reconnect_timeout), growing)


class AsyncHealthPool(AsyncConnectionPool):
    def __init__(self, *args, health: DbHealth | None = None, **kwargs):
        self.health = health
        kwargs.setdefault("check", AsyncConnectionPool.check_connection)
        super().__init__(*args, **kwargs)

    async def getconn(self, timeout: float | None = None):
        health = self.health
        if health is None:
            return await super().getconn(timeout)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if health.down:
                raise health.refuse()
            left = deadline - time.monotonic()
            try:
                return await super().getconn(max(0.01, min(WAIT_SLICE_S, left)))
            except PoolTimeout:
                if left <= WAIT_SLICE_S and not health.down:
                    raise

    async def _add_connection(self, attempt, growing: bool = False) -> None:
        await super()._add_connection(attempt or _CappedAttempt(timeout=self.reconnect_timeout), growing)
