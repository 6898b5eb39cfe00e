"""The daily inspection's system part (日常巡检 · 系统自检): the server checks its own services and
records each `system` checklist item of the day (ops_check_item) — the database accepts a write,
free disk space, the last backup's age and verified restore (backup_record), API and tile latency
measured over HTTP against the server itself, the HTTPS certificate's expiry when the public URL is
https. A timer beside `civicgrid serve` runs it shortly after start and then every hour (the day's
row shows the latest check), and refreshes the system's proposed events of this month and the last;
`civicgrid assessment inspect` runs the checks once.
"""
from __future__ import annotations

import contextlib
import logging
import math
import shutil
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx

from civicgrid.db import connect

log = logging.getLogger("civicgrid.assessment")

FIRST_RUN_S = 60          # after start-up: the server is listening by then
INTERVAL_S = 3600
MIN_FREE_BYTES = 2 << 30  # 2 GiB
MIN_FREE_SHARE = 0.10
API_LIMIT_MS = 1000
TILE_LIMIT_MS = 2000
TLS_MIN_DAYS = 14


def _timed_get(url: str, limit_ms: float) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        r = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        return False, f"无法访问：{type(exc).__name__}"
    ms = (time.perf_counter() - started) * 1000
    return r.status_code < 400 and ms <= limit_ms, f"{ms:.0f} ms（HTTP {r.status_code}）"


def _tile_url(conn, base: str) -> str:
    """A z14 tile over the middle of the town (unit grids: every caller may read them)."""
    row = conn.execute(
        "SELECT ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT ST_Centroid(ST_Extent(geom))::geometry AS c FROM unit_grid) s"
    ).fetchone()
    lon, lat, z = (row["lon"] or 116.6), (row["lat"] or 40.1), 14
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{base}/ogc/collections/unit-grids/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"


def _tls(public_url: str | None) -> tuple[bool, str]:
    if not public_url or urlsplit(public_url).scheme != "https":
        return True, "未启用HTTPS（不适用）"
    parts = urlsplit(public_url)
    try:
        ctx = ssl.create_default_context()
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=5) as sock, \
                ctx.wrap_socket(sock, server_hostname=parts.hostname) as tls:
            not_after = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
    except (OSError, ssl.SSLError, KeyError) as exc:
        return False, f"证书检查失败：{type(exc).__name__}"
    days = (not_after - time.time()) / 86400
    return days >= TLS_MIN_DAYS, f"剩余 {days:.0f} 天"


def _backup(conn) -> tuple[bool, str]:
    if not conn.execute("SELECT to_regclass('backup_record') IS NOT NULL AS e").fetchone()["e"]:
        return False, "无备份记录"
    row = conn.execute(
        "SELECT b.finished_at, now() - b.finished_at <= c.backup_max_age AS fresh, "
        "EXISTS (SELECT 1 FROM backup_record v WHERE v.verifies = b.id AND v.kind = 'verify' AND v.ok) AS verified "
        "FROM backup_record b, assessment_contract c WHERE b.kind <> 'verify' AND b.ok AND b.finished_at IS NOT NULL "
        "ORDER BY b.finished_at DESC LIMIT 1").fetchone()
    if row is None:
        return False, "无成功的备份"
    hours = (datetime.now(timezone.utc) - row["finished_at"]).total_seconds() / 3600
    return bool(row["fresh"] and row["verified"]), f"{hours:.1f} 小时前，{'已验证恢复' if row['verified'] else '未验证恢复'}"


def run_checks(settings, base_url: str | None = None) -> list[dict]:
    """Check and record today's system items; returns what was recorded."""
    base = base_url or f"http://{settings.host}:{settings.port}"
    with connect(settings.dsn) as conn:
        checks: dict[str, tuple[bool, str]] = {}
        started = time.perf_counter()
        writable = not conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"]
        folder = settings.data_dir if settings.data_dir.exists() else settings.data_dir.parent
        usage = shutil.disk_usage(folder)
        ok = usage.free >= MIN_FREE_BYTES and usage.free / usage.total >= MIN_FREE_SHARE
        checks["disk_space"] = (ok, f"剩余 {usage.free / 2**30:.1f} GiB（{usage.free / usage.total:.0%}）")
        checks["backup"] = _backup(conn)
        checks["api_latency"] = _timed_get(f"{base}/api/health/live", API_LIMIT_MS)
        checks["tile_latency"] = _timed_get(_tile_url(conn, base), TILE_LIMIT_MS)
        checks["tls_expiry"] = _tls(settings.public_url)
        # the write of the record itself is the database's write check
        checks["db_write"] = (writable, f"写入正常（{(time.perf_counter() - started) * 1000:.0f} ms）" if writable
                              else "只读（备库或恢复中）")
        rows = conn.execute(
            "INSERT INTO ops_inspection (day, item_code, ok, value, source, recorded_by) "
            "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date, c.code, x.ok, x.value, 'system', 'system' "
            "FROM unnest(%s::text[], %s::boolean[], %s::text[]) AS x(code, ok, value) "
            "JOIN ops_check_item c ON c.code = x.code AND c.active AND c.source = 'system' "
            "ON CONFLICT (day, item_code) DO UPDATE SET ok = EXCLUDED.ok, value = EXCLUDED.value, recorded_at = now() "
            "RETURNING item_code, ok, value",
            [list(checks), [v[0] for v in checks.values()], [v[1] for v in checks.values()]]).fetchall()
        conn.commit()
    return rows


def propose_recent(settings) -> dict[str, dict]:
    """The system's proposals for this month and the last (unless signed off or before the contract),
    so the evaluator finds them waiting before he computes."""
    from civicgrid.assessment import service

    today = service.local_today()
    out = {}
    with connect(settings.dsn) as conn:
        starts = conn.execute("SELECT starts_on FROM assessment_contract").fetchone()["starts_on"]
        for month in ((today.replace(day=1) - timedelta(days=1)).replace(day=1), today.replace(day=1)):
            if month >= starts and not service.locked(conn, month):
                out[service.month_text(month)] = service.propose(conn, month)
        conn.commit()
    return out


def run_forever(settings, stop: threading.Event) -> None:
    if stop.wait(FIRST_RUN_S):
        return
    while True:
        for work in (run_checks, propose_recent):
            try:
                work(settings)
            except Exception as exc:   # the database away, a month signed off meanwhile: next time
                log.warning("assessment timer: %s failed: %s: %s", work.__name__, type(exc).__name__, exc)
        if stop.wait(INTERVAL_S):
            return


@contextlib.asynccontextmanager
async def lifespan(state):
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(state.settings, stop), name="assessment-inspect", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
