"""A connection pool for the cases API (one per database URL; the previous one is closed when the
URL changes, which only happens in tests that switch databases)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from civicgrid.db import describe
from civicgrid.errors import SetupError
from civicgrid.settings import get_settings

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def get_pool() -> ConnectionPool:
    url = get_settings().dsn
    pool = _pools.get(url)
    if pool is None:
        with _lock:
            pool = _pools.get(url)
            if pool is None:
                for old in list(_pools):
                    _pools.pop(old).close(timeout=1)
                pool = ConnectionPool(url, min_size=1, max_size=12, open=True, timeout=15,
                                      kwargs={"row_factory": dict_row, "connect_timeout": 5})
                with pool.connection() as conn:  # committed on its own, before any request's work
                    from civicgrid.cases.workflow import ensure_shipped

                    ensure_shipped(conn)
                _pools[url] = pool
    return pool


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction (committed on success, rolled back on error)."""
    try:
        with get_pool().connection() as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise SetupError(f"database unavailable at {describe(get_settings().dsn)}: {str(exc).splitlines()[0]}") from exc
