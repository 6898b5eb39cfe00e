"""Reads from a hot standby (读写分离): the read-only routes — OGC API items and tiles, search,
labels — read from the standby named by CIVICGRID_DATABASE_READ_URL (or the private standby of
`civicgrid db replica start`, found at start-up while it runs); every write, every read inside a
write's transaction, authentication and sessions stay on the primary.

- Row security holds on the standby: the routes call the same `security_enter(user_id)` in the
  read's transaction (set_config and SET ROLE are allowed in a read-only transaction), and the
  policies are replicated with the tables. A user the standby does not know yet (created a moment
  ago on the primary) makes the read go to the primary.
- Read-your-writes by LSN, not by a time window: after a write the response carries the primary's
  WAL position (`X-Civicgrid-Lsn` and the `cg_lsn` cookie; the worker also remembers it for the
  caller's key or session). A read that brings a position the standby has not replayed yet goes to
  the primary, so an ETag the client then gets (a tile's layer version, a feature's version, the
  labels' hash) already reflects its own write — it cannot revalidate stale data with a 304 from a
  standby that lags. A fixed window of "a few seconds" would be wrong whenever the lag is longer
  than the window, and would send reads to the primary for nothing when the lag is a few ms.
- Everybody else's writes show up on the standby after its lag: what a reader sees is the primary as
  it was a moment ago — one consistent snapshot per statement, like reading a little earlier. An ETag
  from the standby names the version it served, so it is never wrong for that content; an edit with
  If-Match goes to the primary, which answers 412 if the feature changed since (no lost update).
  `CIVICGRID_READ_MAX_LAG` bounds the moment: a standby further behind (measured by `watch` from the
  primary's WAL positions of the last samples) serves no reads.
- A standby that is down, not reachable, promoted or too far behind costs nothing: reads go to the
  primary (no 5xx). A read that fails on the standby because the standby went away mid-request is
  run again on the primary.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import psycopg
from starlette.concurrency import run_in_threadpool

from civicgrid.db.pool import DbHealth
from civicgrid.errors import ServiceUnavailable
from civicgrid.settings import Settings

log = logging.getLogger("civicgrid.reads")

COOKIE = "cg_lsn"
HEADER = "x-civicgrid-lsn"
COOKIE_MAX_AGE_S = 600        # longer than any lag the standby may have and still serve reads
PROBE_S = 0.5
PROBE_TIMEOUT_S = 2.0
REMEMBERED = 10_000           # callers whose last write position a worker keeps (keys without cookies)
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def lsn_int(text: str | None) -> int | None:
    """'16/B374D848' → an int (None when it is not an LSN)."""
    if not text or "/" not in text or len(text) > 17:
        return None
    hi, _, lo = text.partition("/")
    try:
        return (int(hi, 16) << 32) | int(lo, 16)
    except ValueError:
        return None


def lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def configured_url(settings: Settings) -> str | None:
    """The standby reads go to: the setting, else the private standby while it runs."""
    if settings.database_read_url:
        return settings.database_read_url
    if settings.uses_private_cluster:
        from civicgrid.db import replica

        return replica.running_dsn(settings)
    return None


@dataclass
class Standby:
    """The app state's `standby` (None without one): its pools, its health, how far behind it is."""

    url: str
    pool: Any                      # sync (search, labels)
    async_pool: Any                # OGC API items
    tile_pool: Any                 # tiles
    health: DbHealth = field(default_factory=DbHealth)
    max_lag_s: float = 10.0
    replay_lsn: int = 0            # what it has replayed, at the last probe
    lag_s: float = 0.0             # age of the oldest primary position it has not replayed
    promoted: bool = False         # not in recovery: not a copy of our primary any more
    served: dict = field(default_factory=lambda: {"standby": 0, "primary": 0})
    writers: dict = field(default_factory=dict)   # caller → last write position (most recent last)

    @property
    def usable(self) -> bool:
        return not self.health.down and not self.promoted and self.lag_s <= self.max_lag_s

    def remember(self, who: str, lsn: int) -> None:
        self.writers.pop(who, None)
        self.writers[who] = lsn
        while len(self.writers) > REMEMBERED:
            self.writers.pop(next(iter(self.writers)))


@contextlib.asynccontextmanager
async def open_standby(settings: Settings):
    """The standby's pools, or None when no standby is configured."""
    url = configured_url(settings)
    if url is None:
        yield None
        return
    from civicgrid.db import open_pools

    health = DbHealth()
    async with open_pools(url, health, name="civicgrid-read", sync_min=0, sync_max=6) as (pool, async_pool, tile_pool):
        yield Standby(url=url, pool=pool, async_pool=async_pool, tile_pool=tile_pool, health=health,
                      max_lag_s=settings.read_max_lag)


# ---------------------------------------------------------------- where a read goes

def _caller(scope) -> str | None:
    principal = scope.get("state", {}).get("principal")
    if principal is None or principal.is_anonymous:
        return None
    return f"key:{principal.key}" if principal.key else f"user:{principal.user_id}"


def wanted_lsn(scope, standby: Standby) -> int:
    """The newest write position this request says its client has seen (0: none)."""
    found = 0
    for k, v in scope.get("headers", ()):
        if k == b"cookie" and COOKIE.encode() in v:
            for part in v.decode("latin-1").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    found = max(found, lsn_int(value) or 0)
        elif k == HEADER.encode():
            found = max(found, lsn_int(v.decode("latin-1").strip()) or 0)
    who = _caller(scope)
    if who is not None:
        found = max(found, standby.writers.get(who, 0))
    return found


def _standby_for(request) -> tuple[Standby | None, int]:
    from civicgrid.state import app_state

    standby = app_state(request).standby
    if standby is None or not standby.usable or request.method not in SAFE and not _is_query(request):
        return None, 0
    return standby, wanted_lsn(request.scope, standby)


def _is_query(request) -> bool:
    return bool(request.scope.get("state", {}).get("query_by_post"))


class _Behind(Exception):
    """The standby has not replayed what the client wrote: read on the primary."""


REPLAYED_SQL = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AS replayed"


def _check_replayed(row) -> None:
    if not (row["replayed"] if isinstance(row, dict) else row[0]):
        raise _Behind()


def _fallback_error(exc: BaseException) -> bool:
    """Errors after which the same read is run again on the primary."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return False   # a time limit: running it again elsewhere would double the work, not help
    # SerializationFailure: a query cancelled by a conflict with the standby's recovery
    if isinstance(exc, (_Behind, ServiceUnavailable, psycopg.OperationalError, psycopg.errors.SerializationFailure,
                        OSError)):
        return True
    # security_enter on a standby that does not know the user yet (it was created a moment ago)
    return isinstance(exc, psycopg.errors.InsufficientPrivilege) and "security_enter" in str(exc)


async def read(request, work: Callable[[Any], Awaitable[Any]], *, tiles: bool = False) -> Any:
    """`await work(conn)` on a standby connection when this read may use it, else on the primary's
    (the app's async pool, or its tile pool with `tiles`)."""
    from civicgrid.state import app_state

    state = app_state(request)
    standby, lsn = _standby_for(request)
    if standby is not None:
        try:
            async with (standby.tile_pool if tiles else standby.async_pool).connection(timeout=2) as conn:
                if lsn > standby.replay_lsn:
                    cur = await conn.execute(REPLAYED_SQL, [lsn_text(lsn)])
                    _check_replayed(await cur.fetchone())
                result = await work(conn)
            standby.served["standby"] += 1
            return result
        except Exception as exc:
            if not _fallback_error(exc):
                raise
    if state.standby is not None:
        state.standby.served["primary"] += 1
    async with (state.tile_pool if tiles else state.async_pool).connection() as conn:
        return await work(conn)


async def read_sync(request, work: Callable[[Any], Any]) -> Any:
    """`work(conn)` in the thread pool on a sync standby connection when allowed, else the primary's."""
    from civicgrid.state import app_state

    state = app_state(request)
    standby, lsn = _standby_for(request)

    def run():
        if standby is not None:
            try:
                with standby.pool.connection(timeout=2) as conn:
                    if lsn > standby.replay_lsn:
                        _check_replayed(conn.execute(REPLAYED_SQL, [lsn_text(lsn)]).fetchone())
                    result = work(conn)
                standby.served["standby"] += 1
                return result
            except Exception as exc:
                if not _fallback_error(exc):
                    raise
        if state.standby is not None:
            state.standby.served["primary"] += 1
        with state.pool.connection() as conn:
            return work(conn)

    return await run_in_threadpool(run)


# ---------------------------------------------------------------- the write position after a write

class ReadYourWritesMiddleware:
    """After a write (any method but GET/HEAD/OPTIONS, a CQL2 query by POST excepted) the primary's
    WAL position goes out with the response, and is remembered for the caller: its next reads wait
    for nothing — they go to the primary until the standby has replayed that far."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE:
            await self.app(scope, receive, send)
            return
        from civicgrid.state import app_state

        state = app_state(scope)
        if state.standby is None:
            await self.app(scope, receive, send)
            return

        async def send_position(message):
            if (message["type"] == "http.response.start" and message["status"] < 400
                    and not scope.get("state", {}).get("query_by_post")):
                lsn = await _primary_position(state)
                if lsn is not None:
                    text = lsn_text(lsn)
                    message = {**message, "headers": [
                        *message.get("headers", []), (HEADER.encode(), text.encode()),
                        (b"set-cookie", f"{COOKIE}={text}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; "
                                        "SameSite=Lax".encode())]}
                    who = _caller(scope)
                    if who is not None:
                        state.standby.remember(who, lsn)
            await send(message)

        await self.app(scope, receive, send_position)


async def _primary_position(state) -> int | None:
    """The primary's WAL insert position now (after the request's commit), None if it cannot say."""
    try:
        async with state.async_pool.connection(timeout=1) as conn:
            cur = await conn.execute("SELECT pg_current_wal_insert_lsn()::text")
            return lsn_int((await cur.fetchone())[0])
    except Exception as exc:   # the answer matters more than the routing hint
        log.warning("no WAL position for read-your-writes: %s", exc)
        return None


middleware = [ReadYourWritesMiddleware]


# ---------------------------------------------------------------- watching the standby

async def watch(state) -> None:
    """Twice a second: is the standby up and still a standby, what has it replayed, and how old is
    the oldest primary position (sampled here) it has not replayed — its lag in seconds."""
    standby: Standby = state.standby
    conn = None
    samples: deque[tuple[float, int]] = deque(maxlen=int(3600 / PROBE_S))
    while True:
        now = time.monotonic()
        try:
            async with state.async_pool.connection(timeout=1) as primary:
                cur = await primary.execute("SELECT pg_current_wal_lsn()::text")
                samples.append((now, lsn_int((await cur.fetchone())[0]) or 0))
        except Exception:   # the primary's own watch reports its outage
            pass
        try:
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(standby.url, autocommit=True,
                                                             connect_timeout=PROBE_TIMEOUT_S)
            cur = await asyncio.wait_for(conn.execute(
                "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn(), '0/0')::text"), PROBE_TIMEOUT_S)
            recovering, replayed = await cur.fetchone()
            standby.replay_lsn = lsn_int(replayed) or 0
            if standby.promoted != (not recovering):
                standby.promoted = not recovering
                if standby.promoted:
                    log.error("the standby at %s is no longer in recovery (promoted?): reads go to the primary",
                              _where(standby.url))
            while samples and samples[0][1] <= standby.replay_lsn:
                samples.popleft()
            standby.lag_s = now - samples[0][0] if samples else 0.0
            if standby.health.mark(False):
                log.warning("standby %s reachable again: reads go to it", _where(standby.url))
        except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
            error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            conn = None
            if standby.health.mark(True, error):
                log.error("standby %s unreachable (%s): reads go to the primary", _where(standby.url), error)
        await asyncio.sleep(PROBE_S)


def _where(url: str) -> str:
    from civicgrid.db import describe

    return describe(url)


def lifespan(state):
    from civicgrid.guard import running

    if state.standby is None:
        return contextlib.nullcontext()
    return running(watch(state), "civicgrid-standby-watch")
