"""Database: the private cluster (`cluster.py`), versioned SQL migrations (`migrations/`, run by
yoyo-migrations), and the one way the rest of civicgrid gets a connection (`connect`, `pool`).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from civicgrid.errors import SetupError
from civicgrid.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def dsn(settings: Settings | None = None) -> str:
    return (settings or get_settings()).dsn


def describe(url: str) -> str:
    """host:port/db of a URL, without the password, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A new connection; dict rows unless asked otherwise. Unreachable → SetupError with one line."""
    url = url or dsn()
    kwargs.setdefault("row_factory", dict_row)
    kwargs.setdefault("connect_timeout", 5)
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SetupError(f"cannot reach the database at {describe(url)}: {first}") from exc


@contextmanager
def transaction(url: str | None = None, actor: str | None = None) -> Iterator[psycopg.Connection]:
    """One transaction; `actor` lands in history rows written by triggers."""
    with connect(url) as conn:
        with conn.transaction():
            if actor:
                conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [actor])
            yield conn


_pools: dict = {}
_pool_lock = threading.Lock()


def pool():
    """The app's shared psycopg ConnectionPool for sync request work (one per database URL; the
    previous one is closed when the URL changes, which only tests that switch databases do)."""
    from psycopg_pool import ConnectionPool

    url = dsn()
    p = _pools.get(url)
    if p is None:
        with _pool_lock:
            p = _pools.get(url)
            if p is None:
                for old in list(_pools):
                    _pools.pop(old).close(timeout=1)
                p = ConnectionPool(url, min_size=1, max_size=12, open=True, timeout=15,
                                   kwargs={"row_factory": dict_row, "connect_timeout": 5})
                _pools[url] = p
    return p


_async: dict = {"pool": None}


async def async_pool():
    """The app's shared psycopg AsyncConnectionPool (opened on first use): autocommit, statements
    prepared after two uses, no parallel workers (with 8+ clients on 2 cores Gather costs more
    than it saves), a 30 s statement timeout."""
    from psycopg_pool import AsyncConnectionPool

    p = _async["pool"]
    if p is not None and p.closed:
        p = _async["pool"] = None
    if p is None:
        async def configure(conn):
            await conn.set_autocommit(True)
            conn.prepare_threshold = 2

        p = AsyncConnectionPool(dsn(), min_size=2, max_size=10, open=False, configure=configure,
                                kwargs={"options": "-c statement_timeout=30000 -c max_parallel_workers_per_gather=0"},
                                name="civicgrid-async")
        _async["pool"] = p
        try:
            await p.open(wait=True, timeout=15)
        except Exception as exc:
            _async["pool"] = None
            await p.close()
            raise SetupError(f"the database is unavailable: {exc}") from exc
    return p


async def close_async_pool() -> None:
    p = _async["pool"]
    if p is not None:
        _async["pool"] = None
        await p.close()


def _yoyo_url(url: str) -> str:
    if "://" not in url:
        raise SetupError("DATABASE_URL must be a URL: postgresql://user:password@host:port/dbname")
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _backend_and_migrations(url: str):
    from yoyo import get_backend, read_migrations

    connect(url).close()  # one clear line when the database is unreachable
    return get_backend(_yoyo_url(url)), read_migrations(str(MIGRATIONS_DIR))


def migrate(url: str | None = None) -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    backend, migrations = _backend_and_migrations(url or dsn())
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def rollback(url: str | None = None, count: int | None = None) -> list[str]:
    """Roll back the last `count` migrations (all when None); returns the ids rolled back."""
    backend, migrations = _backend_and_migrations(url or dsn())
    with backend.lock():
        applied = backend.to_rollback(migrations)
        if count is not None:
            applied = applied[:count]
        backend.rollback_migrations(applied)
    return [m.id for m in applied]


def applied_migrations(url: str | None = None) -> list[str]:
    backend, migrations = _backend_and_migrations(url or dsn())
    pending = {m.id for m in backend.to_apply(migrations)}
    return [m.id for m in migrations if m.id not in pending]
