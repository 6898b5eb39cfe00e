"""Guards in front of the whole app, and the health routes (a part, see civicgrid.app).

- `QueryGuardMiddleware`: a query string that is not UTF-8 or holds a NUL character is a 400
  naming the parameter before any handler (ours or pygeoapi's) decodes it.
- `DatabaseGuardMiddleware`: while the database is down (app state `db`, kept by `watch`) every
  route under /api and /ogc answers 503 with Retry-After at once — the access layer's
  authentication included — except the liveness route. The web map's files are still served.
- `watch(state)` (the lifespan): one probe connection runs `SELECT 1` every PROBE_UP_S (every
  PROBE_DOWN_S while down); on each change of state the pools' idle connections are checked, so
  dead ones are dropped before a request could get one.
- `/api/health/live` the process answers (no database); `/api/health/ready` database, migrations
  applied, disk space, job queue — 200 when all pass, else 503 naming the failing checks.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from urllib.parse import parse_qsl

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from civicgrid.errors import InvalidInput
from civicgrid.http import error_response
from civicgrid.state import AppState, app_state

log = logging.getLogger("civicgrid.guard")

PROBE_UP_S = 0.5
PROBE_DOWN_S = 0.25
PROBE_TIMEOUT_S = 2.0
MIN_FREE_DISK_BYTES = 1 << 30          # readiness fails below 1 GiB free in the data folder
JOBS_WAITING_MAX = 100                 # readiness fails above this many accepted jobs waiting
ALWAYS_ANSWERED = ("/api/health/live", "/api/health/ready")   # ready says itself what is down


# ---------------------------------------------------------------- the query string

class QueryGuardMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            problem = query_problem(scope.get("query_string", b""))
            if problem is not None:
                await error_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def query_problem(qs: bytes) -> InvalidInput | None:
    if not qs:
        return None
    try:
        pairs = parse_qsl(qs.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        for part in qs.split(b"&"):
            name = part.split(b"=", 1)[0].decode("latin-1")
            try:
                parse_qsl(part.decode("latin-1"), encoding="utf-8", errors="strict")
            except UnicodeDecodeError:
                return InvalidInput(f"query parameter '{name[:40]}' is not valid UTF-8", field=name[:40])
        return InvalidInput("the query string is not valid UTF-8", field="query")
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "")[:40] or "query"
            return InvalidInput(f"query parameter '{shown}' must not contain the NUL character", field=shown)
    return None


# ---------------------------------------------------------------- the database down

class DatabaseGuardMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            db = app_state(scope).db
            if db.down and path.startswith(("/api", "/ogc")) and path not in ALWAYS_ANSWERED:
                await error_response(db.refuse())(scope, receive, send)
                return
        await self.app(scope, receive, send)


middleware = [DatabaseGuardMiddleware, QueryGuardMiddleware]


async def _probe(conn: psycopg.AsyncConnection | None, dsn: str) -> psycopg.AsyncConnection:
    if conn is None or conn.closed:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=PROBE_TIMEOUT_S)
    await asyncio.wait_for(conn.execute("SELECT 1"), PROBE_TIMEOUT_S)
    return conn


async def _check_pools(state: AppState) -> None:
    """Drop the pools' dead idle connections (and start new ones) without a request paying for it."""
    checks = [state.async_pool.check(), state.tile_pool.check(), asyncio.to_thread(state.pool.check)]
    for done in await asyncio.gather(*checks, return_exceptions=True):
        if isinstance(done, Exception):
            log.warning("pool check failed: %s", done)


async def watch(state: AppState) -> None:
    conn = None
    db = state.db
    while True:
        try:
            conn = await _probe(conn, state.settings.dsn)
            up, error = True, None
        except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
            up, error = False, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            conn = None
        if up and db.down:
            # fresh connections first, then let requests through
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_check_pools(state), PROBE_TIMEOUT_S)
            log.warning("database reachable again after %.1f s", time.monotonic() - db.since)
            db.mark(False)
        elif not up and db.mark(True, error):
            log.error("database unreachable: %s; answering 503 until it is back", error)
            asyncio.get_running_loop().create_task(_check_pools(state))
        await asyncio.sleep(PROBE_UP_S if up else PROBE_DOWN_S)


@contextlib.asynccontextmanager
async def running(coro, name: str):
    """`coro` as a background task for as long as the context lasts (a part's lifespan), cancelled after."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def lifespan(state: AppState):
    return running(watch(state), "civicgrid-db-watch")


# ---------------------------------------------------------------- health routes

async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _database_checks(state: AppState) -> dict:
    from civicgrid.db import MIGRATIONS_DIR

    shipped = {p.name.removesuffix(".sql") for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql")}
    async with state.async_pool.connection(timeout=1) as conn:
        cur = await conn.execute("SELECT migration_id FROM _yoyo_migration")
        applied = {r[0] for r in await cur.fetchall()}
        cur = await conn.execute("SELECT count(*) FILTER (WHERE status = 'accepted'), "
                                 "count(*) FILTER (WHERE status = 'running') FROM process_job "
                                 "WHERE status IN ('accepted', 'running')")
        waiting, running = await cur.fetchone()
        cur = await conn.execute("SELECT extract(epoch FROM now() - max(finished_at)) FROM backup_record "
                                 "WHERE ok AND kind <> 'verify'")
        (backup_age,) = await cur.fetchone()
    missing = sorted(shipped - applied)
    interval = state.settings.backup_interval_hours * 3600
    # informational: an old backup is the operators' alarm, not a reason to take the server out of service
    backup = {"ok": True, "age_s": None if backup_age is None else round(float(backup_age)),
              "stale": bool(interval) and (backup_age is None or float(backup_age) > 2 * interval)}
    return {
        "backup": backup,
        "database": {"ok": True},
        "migrations": {"ok": not missing, "applied": len(applied & shipped), "missing": missing},
        "job_queue": {"ok": waiting <= JOBS_WAITING_MAX, "waiting": waiting, "running": running},
    }


async def ready(request: Request) -> JSONResponse:
    state = app_state(request)
    checks: dict = {}
    if state.db.down:
        checks["database"] = {"ok": False, "error": state.db.last_error,
                              "down_for_s": round(time.monotonic() - state.db.since, 1)}
    else:
        try:
            checks.update(await asyncio.wait_for(_database_checks(state), 2))
        except Exception as exc:   # any failure here is "not ready", never a 500
            checks["database"] = {"ok": False, "error": f"{type(exc).__name__}"}
    folder = state.settings.data_dir if state.settings.data_dir.exists() else state.settings.data_dir.parent
    free = shutil.disk_usage(folder).free
    checks["disk"] = {"ok": free >= MIN_FREE_DISK_BYTES, "free_bytes": free}
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    if not ok:   # the error shape of every other answer, with the checks beside it
        failing = ", ".join(name for name, c in checks.items() if not c["ok"])
        body = {"code": "ServiceUnavailable", "description": f"not ready: {failing}", **body}
    return JSONResponse(body, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})


routes = [Route("/health/live", live), Route("/health/ready", ready)]
