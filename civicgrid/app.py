"""The one ASGI app behind `civicgrid serve`: the web map at `/`, our API at `/api`, pygeoapi at `/ogc`.

The parts are listed in PARTS, in the order their routes are laid out. A part is a module that
offers any of these hooks:

- `routes`            Starlette routes mounted under /api
- `mount(routes, state)` adds routes outside /api (pygeoapi at /ogc, the web map's catch-all at /)
- `lifespan(state)`   an async context manager entered at start-up, before the routes are laid
                      out: background work (the case timers), or loading what the part publishes
- `middleware`        ASGI middleware classes wrapped around the whole app

A part that is missing, fails to import or offers none of the hooks stops the start with its name
and the error. At start-up the lifespan opens the app state (civicgrid.state: pools, caches), enters
the parts' lifespans, lays out the routes and checks that every published collection and process
has an access rule. Errors are mapped to JSON in one place (`exception_handlers`).
"""
from __future__ import annotations

import importlib
import logging
from contextlib import AsyncExitStack, asynccontextmanager
from types import ModuleType

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from civicgrid.errors import CivicgridError, InvalidInput, SetupError
from civicgrid.http import error_response
from civicgrid.settings import get_settings
from civicgrid.state import AppState, app_state

log = logging.getLogger("civicgrid")

PARTS = (
    "civicgrid.guard",
    "civicgrid.db.reads",
    "civicgrid.cases.api",
    "civicgrid.cases.dashboard",
    "civicgrid.survey.api",
    "civicgrid.security.api",
    "civicgrid.security.admin",
    "civicgrid.search.api",
    "civicgrid.layers.plans",
    "civicgrid.layers.history",
    "civicgrid.officers.api",
    "civicgrid.exchange.api",
    "civicgrid.geoserver.api",
    "civicgrid.assessment.api",
    "civicgrid.evaluation.api",
    "civicgrid.openapi",
    "civicgrid.ops",
    "civicgrid.layers.ogc",
    "civicgrid.web.site",
)
HOOKS = ("routes", "mount", "lifespan", "middleware")


def load_parts(names=PARTS) -> list[ModuleType]:
    modules = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise SetupError(f"part {name} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        if not any(hasattr(module, hook) for hook in HOOKS):
            raise SetupError(f"part {name} offers none of {', '.join(HOOKS)}")
        modules.append(module)
    return modules


async def civicgrid_error(request: Request, exc: CivicgridError) -> JSONResponse:
    return error_response(exc)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Routing errors (unknown path, wrong method) in the same JSON shape as ours."""
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    return JSONResponse({"code": code, "description": exc.detail or code}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def database_error(request: Request, exc: psycopg.Error) -> JSONResponse:
    from civicgrid.db.errors import translate

    err = translate(exc)
    if err.status >= 500 and err.status != 503:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(err)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"code": "ServerError", "description": f"internal error: {type(exc).__name__}"},
                        status_code=500)


async def health(request: Request) -> JSONResponse:
    from psycopg.rows import dict_row

    async with app_state(request).async_pool.connection() as conn:  # pooled, and not blocking the event loop
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT (SELECT count(*) FROM unit_grid) AS unit_grids, (SELECT count(*) FROM component) AS components")
        counts = await cur.fetchone()
    return JSONResponse({"status": "ok", **counts})


MAX_PATH_INT = 2**31 - 1   # ids in paths: integer columns; beyond it the database would refuse without a name


def checked_path_params(app):
    """An /api route's ASGI app that first checks its path parameters: a NUL character, or an
    integer beyond the columns' range, is a 400 naming the parameter (not a database error)."""

    async def guarded(scope, receive, send):
        for name, value in (scope.get("path_params") or {}).items():
            if isinstance(value, str) and "\x00" in value:
                raise InvalidInput(f"{name}: must not contain the NUL character", field=name)
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_PATH_INT:
                raise InvalidInput(f"{name}: {value} is out of range (at most {MAX_PATH_INT})", field=name)
        await app(scope, receive, send)
    return guarded


def layout(modules: list[ModuleType], state: AppState) -> list:
    """/api first (the parts' `routes`), then each part's `mount` in the order of PARTS."""
    api_routes: list = [Route("/health", health)]
    for module in modules:
        api_routes.extend(getattr(module, "routes", ()))
    for route in api_routes:
        if isinstance(route, Route) and route.param_convertors:
            route.app = checked_path_params(route.app)
    routes: list = [Mount("/api", routes=api_routes)]
    for module in modules:
        if hasattr(module, "mount"):
            module.mount(routes, state)
    return routes


def create_app(parts=PARTS) -> Starlette:
    from civicgrid.security.access import AccessMiddleware, check_coverage

    modules = load_parts(parts)
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with AppState.open(settings) as state, AsyncExitStack() as stack:
            app.state.civicgrid = state
            for module in modules:
                if hasattr(module, "lifespan"):
                    await stack.enter_async_context(module.lifespan(state))
            app.router.routes[:] = layout(modules, state)
            check_coverage(resources=state.ogc.resources if state.ogc else {})
            yield

    handlers = {CivicgridError: civicgrid_error, psycopg.Error: database_error, HTTPException: http_error,
                Exception: internal_error}
    app = Starlette(routes=[], exception_handlers=handlers, lifespan=lifespan)
    # the access layer sits inside the parts' middleware (which only rewrite requests) and in front
    # of every route, the mounted pygeoapi included
    app.add_middleware(AccessMiddleware)
    for module in modules:
        for middleware in getattr(module, "middleware", ()):
            app.add_middleware(middleware)
    return app
