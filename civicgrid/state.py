"""What a running app holds, in one typed object built by its lifespan (no module globals).

`AppState.open(settings)` opens the pools; the parts' `start(state)` hooks (civicgrid.app) add
what they load at start-up — layers/ogc.py the resolved pygeoapi configuration and the active
collections. Handlers reach it through the request (`app_state(request)`), middleware through the
ASGI scope (`app_state(scope)`); both find it on the Starlette app (`app.state.civicgrid`).
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

from civicgrid.settings import Settings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    from civicgrid.cases.cache import CasesCache
    from civicgrid.db.pool import DbHealth
    from civicgrid.db.reads import Standby
    from civicgrid.layers.ogc import OgcState
    from civicgrid.layers.tiles import TileState
    from civicgrid.search.labels import Labels


@dataclass
class AppState:
    settings: Settings
    pool: ConnectionPool                 # sync handlers (run in the thread pool): cases, security
    async_pool: AsyncConnectionPool      # the access layer, OGC API Features, health
    tile_pool: AsyncConnectionPool       # MVT rendering and the tile cache (small, untuned)
    cases: CasesCache                    # compiled workflows, active versions, code catalog, calendar
    tiles: TileState
    db: DbHealth                         # the database up or down (kept by civicgrid.health)
    ogc: OgcState | None = None          # set by layers/ogc.py at start-up
    labels: Labels | None = None         # GET /api/labels, rebuilt after search.labels.TTL
    standby: Standby | None = None       # a hot standby for the read-only routes (civicgrid.db.reads)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[AppState]:
        from civicgrid.cases.cache import CasesCache
        from civicgrid.db import open_pools
        from civicgrid.db.pool import DbHealth
        from civicgrid.db.reads import open_standby
        from civicgrid.layers.tiles import TileState

        db = DbHealth()
        async with open_pools(settings.dsn, db) as (pool, async_pool, tile_pool), open_standby(settings) as standby:
            yield cls(settings=settings, pool=pool, async_pool=async_pool, tile_pool=tile_pool,
                      cases=CasesCache(), tiles=TileState(), db=db, standby=standby)


def app_state(holder) -> AppState:
    """The state of the app serving a request (or an ASGI scope)."""
    app = holder["app"] if isinstance(holder, dict) else holder.app
    return app.state.civicgrid


@asynccontextmanager
async def lifespan(app) -> AsyncIterator[None]:
    """A lifespan that gives a bare Starlette app (tests of one part's routes) the state alone."""
    from civicgrid.settings import get_settings

    async with AppState.open(get_settings()) as state:
        app.state.civicgrid = state
        yield
