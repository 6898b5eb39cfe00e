"""Database: the private cluster (`cluster.py`), versioned SQL migrations (`migrations/`, run by
yoyo-migrations), the one way the rest of civicgrid gets a connection (`connect`, and the pools
the app state opens: `open_pool`, `open_async_pool`) and the one SQL loader (`load_sql`).
"""
from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from civicgrid.errors import SetupError
from civicgrid.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@lru_cache(maxsize=None)
def load_sql(package: str, name: str) -> str:
    """The text of `sql/<name>` beside a part, read once: `load_sql("civicgrid.cases", "enrich.sql")`."""
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")


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


def open_pool(url: str, health=None, min_size: int = 1, max_size: int = 12):
    """A connection pool for sync request work (the app state holds one, see civicgrid.state);
    with `health` (db.pool.DbHealth) it answers 503 at once while the database is down."""
    from civicgrid.db.pool import HealthPool

    return HealthPool(url, min_size=min_size, max_size=max_size, open=True, timeout=15, health=health,
                      kwargs={"row_factory": dict_row, "connect_timeout": 5})


async def open_async_pool(url: str, *, name: str = "civicgrid-async", min_size: int = 2, max_size: int = 10,
                          tuned: bool = True, health=None):
    """A psycopg AsyncConnectionPool, autocommit, opening in the background (a server starts while its
    database is still coming up; a request waits up to 15 s for a connection). `tuned` (the app's
    main pool): statements prepared after two uses, no parallel workers (with 8+ clients on 2 cores
    Gather costs more than it saves) and a 30 s statement timeout."""
    from civicgrid.db.pool import AsyncHealthPool

    async def configure(conn):
        await conn.set_autocommit(True)
        if tuned:
            conn.prepare_threshold = 2

    options = {"options": "-c statement_timeout=30000 -c max_parallel_workers_per_gather=0"} if tuned else {}
    p = AsyncHealthPool(url, min_size=min_size, max_size=max_size, open=False, configure=configure,
                        kwargs=options, name=name, timeout=15, health=health)
    await p.open(wait=False)
    return p


@asynccontextmanager
async def open_pools(url: str, health=None, *, name: str = "civicgrid", sync_min: int = 1, sync_max: int = 12):
    """The three pools the app reads a database with — the async one (access layer, OGC API), the
    tiles' (small, untuned) and the sync one (thread-pool handlers) — closed in reverse order:
    the app state's for the primary, and a standby's (civicgrid.db.reads)."""
    async_pool = await open_async_pool(url, name=f"{name}-async", health=health)
    try:
        tile_pool = await open_async_pool(url, name=f"{name}-tiles", min_size=1, max_size=4, tuned=False,
                                          health=health)
        try:
            pool = open_pool(url, health=health, min_size=sync_min, max_size=sync_max)
            try:
                yield pool, async_pool, tile_pool
            finally:
                pool.close(timeout=1)
        finally:
            await tile_pool.close()
    finally:
        await async_pool.close()


def _yoyo_url(url: str) -> str:
    if "://" not in url:
        raise SetupError("DATABASE_URL must be a URL: postgresql://user:password@host:port/dbname")
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _backend_and_migrations(url: str):
    from yoyo import get_backend, read_migrations

    connect(url).close()  # one clear line when the database is unreachable
    return get_backend(_yoyo_url(url)), read_migrations(str(MIGRATIONS_DIR))


def migrate(url: str | None = None) -> list[str]:
    """Apply every pending migration, then install the data the parts ship (the shipped workflows,
    which are YAML files versioned in the `workflow` table); returns the migration ids applied."""
    from civicgrid.cases.workflow import install_shipped

    url = url or dsn()
    backend, migrations = _backend_and_migrations(url)
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    with transaction(url) as conn:
        install_shipped(conn)
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
