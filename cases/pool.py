"""The cases API's connections: the app's shared pool (civicgrid.db.pool), with the shipped
workflows made sure of once per database before the first request uses it."""
from __future__ import annotations

import threading

from civicgrid.db import pool
from civicgrid.settings import get_settings

_ready: set[tuple] = set()
_lock = threading.Lock()


def get_pool():
    p = pool()
    key = (get_settings().dsn, id(p))  # a new pool (new database) is made sure of again
    if key not in _ready:
        with _lock:
            if key not in _ready:
                with p.connection() as conn:  # committed on its own, before any request's work
                    from civicgrid.cases.workflow import ensure_shipped

                    ensure_shipped(conn)
                _ready.add(key)
    return p
