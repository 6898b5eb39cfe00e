"""Operations beside the app: request ids and JSON logs, `/metrics`, the daily backup.

- Every request gets an id: the caller's `X-Request-Id` when it is a plain token (letters, digits,
  `.`, `_`, `-`, at most 64), else a new one; it is sent back and is in every log line written
  while the request runs (`configure_logging`: one JSON object per line).
- `/metrics` (Prometheus text) for admins or callers on the same machine (a scraper beside it).
- Feed tombstones older than CIVICGRID_FEED_TOMBSTONE_DAYS are pruned hourly (layers/feeds.py).
- The daily backup: every server process runs the check; an advisory lock in PostgreSQL lets one
  of them do the work (civicgrid.db.backup.backup_if_due), so several workers never back up twice.
"""
from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import json
import logging
import re
import threading
import time
import uuid
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid import metrics
from civicgrid.errors import Forbidden
from civicgrid.state import app_state

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
    from civicgrid.layers.feeds import start_pruning

    stop = threading.Event()
    if state.settings.backup_interval_hours > 0:
        threading.Thread(target=_backup_loop, args=(state.settings, stop), name="daily-backup", daemon=True).start()
    prune = start_pruning(state.settings)
    try:
        yield
    finally:
        stop.set()
        prune.set()


# ---------------------------------------------------------------- request ids and JSON logs

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and the extras a
    caller passes (`log.info("request", extra={"fields": {...}})`)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        if (rid := REQUEST_ID.get()) is not None:
            out["request_id"] = rid
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(fmt: str = "json", level: str = "info") -> dict:
    """uvicorn's log_config: our loggers and uvicorn's through one handler on stderr."""
    formatter = {"()": JsonFormatter} if fmt == "json" else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False, "formatters": {"main": formatter},
            "handlers": {"main": handler},
            "loggers": {"civicgrid": {"handlers": ["main"], "level": level.upper(), "propagate": False},
                        "uvicorn": {"handlers": ["main"], "level": "WARNING", "propagate": False},
                        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}},
            "root": {"handlers": ["main"], "level": "WARNING"}}


access_log = logging.getLogger("civicgrid.access")


class RequestMiddleware:
    """Request id in and out, one access log line and the request metrics per request."""

    def __init__(self, app):
        self.app = app
        self._table = None

    def _route(self, scope) -> str:
        from civicgrid.security.access import match, route_table

        if not self._table:
            self._table = route_table(scope["app"].router.routes) if "app" in scope else []
        found = match(self._table, scope["path"], scope["method"]) if self._table else None
        return found[0].template if found else "(unmatched)"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _ID_OK.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route, method = self._route(scope), scope["method"]
            metrics.REQUESTS.labels(method, route, str(status["code"])).inc()
            metrics.LATENCY.labels(method, route).observe(elapsed)
            if status["code"] >= 500:
                metrics.ERRORS.labels(method, route).inc()
            access_log.info("request", extra={"fields": {
                "method": method, "path": scope["path"], "route": route, "status": status["code"],
                "ms": round(elapsed * 1000, 1), "client": (scope.get("client") or ("",))[0]}})
            REQUEST_ID.reset(token)


middleware = (RequestMiddleware,)


# ---------------------------------------------------------------- /metrics

def _local(request: Request) -> bool:
    try:
        return ipaddress.ip_address((request.client.host if request.client else "")).is_loopback
    except ValueError:
        return False


async def metrics_page(request: Request) -> Response:
    principal = request.scope.get("state", {}).get("principal")
    if not _local(request) and not (principal is not None and "admin" in principal.roles):
        raise Forbidden("metrics are for administrators or the same machine", field="client")
    return Response(await metrics.render(app_state(request)),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


def mount(routes: list, state) -> None:
    routes.append(Route("/metrics", metrics_page, methods=["GET"]))


@metrics.on_scrape
async def pools(state) -> list[metrics.Sample]:
    out = []
    sb = getattr(state, "standby", None)
    named = [(name, getattr(state, name, None)) for name in ("pool", "async_pool", "tile_pool")]
    if sb is not None:
        named += [(f"standby_{name}", getattr(sb, name)) for name in ("pool", "async_pool", "tile_pool")]
    for name, pool in named:
        if pool is None:
            continue
        stats = pool.get_stats()
        size, free = stats.get("pool_size", 0), stats.get("pool_available", 0)
        out += [metrics.Sample("civicgrid_db_pool_connections", "connections open in the pool", size, {"pool": name}),
                metrics.Sample("civicgrid_db_pool_in_use", "connections handed out", size - free, {"pool": name}),
                metrics.Sample("civicgrid_db_pool_waiting", "requests waiting for a connection",
                               stats.get("requests_waiting", 0), {"pool": name}),
                metrics.Sample("civicgrid_db_pool_max", "the pool's limit", pool.max_size, {"pool": name})]
    return out


@metrics.on_scrape
async def standby(state) -> list[metrics.Sample]:
    """The hot standby's share of the reads (civicgrid.db.reads), its lag, and whether it serves."""
    sb = getattr(state, "standby", None)
    if sb is None:
        return []
    return [*(metrics.Sample("civicgrid_db_reads", "read-only requests served, by database", n, {"database": where})
              for where, n in sb.served.items()),
            metrics.Sample("civicgrid_db_standby_lag_seconds", "age of the oldest primary position the standby "
                           "has not replayed", sb.lag_s),
            metrics.Sample("civicgrid_db_standby_serving", "1 when the standby takes reads", int(sb.usable))]


@metrics.on_scrape
async def queues(state) -> list[metrics.Sample]:
    async with state.async_pool.connection(timeout=1) as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM process_job WHERE status = 'accepted'), "
            "(SELECT count(*) FROM process_job WHERE status = 'running'), "
            "(SELECT count(*) FROM case_timer WHERE done_at IS NULL), "
            "(SELECT count(*) FROM case_timer WHERE done_at IS NULL AND due_at < now()), "
            "(SELECT coalesce(extract(epoch FROM now() - min(due_at)), 0) FROM case_timer "
            " WHERE done_at IS NULL AND due_at < now()), "
            "(SELECT extract(epoch FROM now() - max(finished_at)) FROM backup_record WHERE ok AND kind <> 'verify')")
        waiting, running, timers, due, late, backup_age = await cur.fetchone()
    out = [metrics.Sample("civicgrid_jobs", "asynchronous process jobs", waiting, {"status": "accepted"}),
           metrics.Sample("civicgrid_jobs", "asynchronous process jobs", running, {"status": "running"}),
           metrics.Sample("civicgrid_case_timers_pending", "case timers (warnings, overdue notices) not fired yet", timers),
           metrics.Sample("civicgrid_case_timers_due", "case timers past their time and not fired", due),
           metrics.Sample("civicgrid_case_timers_lag_seconds", "how late the oldest due timer is", float(late))]
    if backup_age is not None:
        out.append(metrics.Sample("civicgrid_backup_age_seconds", "since the last good backup finished",
                                  float(backup_age)))
    return out
