"""The one ASGI app behind `civicgrid serve`: the web map at `/`, our API at `/api`, pygeoapi at `/ogc`.

Each part of civicgrid that offers HTTP routes exposes `routes` (a list of Starlette routes) in
its `api` module; the parts are listed in API_PARTS. Errors are mapped to JSON in one place.
"""
from __future__ import annotations

import importlib
import logging
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

from civicgrid.errors import CivicgridError
from civicgrid.http import error_response

log = logging.getLogger("civicgrid")

# Modules whose `routes` are mounted under /api (a part not written yet is skipped); a module may
# also offer `lifespan(app)`, an async context manager for background work beside the server.
API_PARTS = (
    "civicgrid.layers.api",
    "civicgrid.cases.api",
    "civicgrid.survey.api",
    "civicgrid.processes.api",
    "civicgrid.security.api",
)

# Modules whose `mount(app_routes)` hook adds routes outside /api (pygeoapi at /ogc, the web UI at /).
# Optional hooks of the same modules: `middleware` (a list of ASGI middleware classes wrapped around
# the whole app) and `on_shutdown` (an async function run when the server stops).
TOP_PARTS = (
    "civicgrid.layers.ogc",
    "civicgrid.web.site",
)


def _optional_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


async def civicgrid_error(request: Request, exc: CivicgridError) -> JSONResponse:
    return error_response(exc)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Routing errors (unknown path, wrong method) in the same JSON shape as ours."""
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    return JSONResponse({"code": code, "description": exc.detail or code}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"code": "ServerError", "description": f"internal error: {type(exc).__name__}"},
                        status_code=500)


async def landing(request: Request) -> HTMLResponse:
    return HTMLResponse("""<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>civicgrid 仁和镇综合执法指挥中心</title>
<h1>civicgrid · 仁和镇综合执法指挥中心</h1>
<ul><li><a href="/ogc">OGC API (/ogc)</a></li><li><a href="/api/health">API 健康检查 (/api/health)</a></li></ul>
</html>""")


async def health(request: Request) -> JSONResponse:
    from psycopg.rows import dict_row

    from civicgrid.db import async_pool

    async with (await async_pool()).connection() as conn:  # pooled, and not blocking the event loop
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT (SELECT count(*) FROM unit_grid) AS unit_grids, (SELECT count(*) FROM component) AS components")
        counts = await cur.fetchone()
    return JSONResponse({"status": "ok", **counts})


def create_app() -> Starlette:
    api_routes: list = [Route("/health", health)]
    api_modules = [m for m in map(_optional_module, API_PARTS) if m is not None]
    for module in api_modules:
        api_routes.extend(module.routes)
    routes: list = [Mount("/api", routes=api_routes)]
    top_modules = [m for m in map(_optional_module, TOP_PARTS) if m is not None]
    for module in top_modules:
        module.mount(routes)
    if not any(getattr(r, "path", None) == "" or getattr(r, "path", None) == "/" for r in routes):
        routes.append(Route("/", landing))

    @asynccontextmanager
    async def lifespan(app):
        # parts with background work (e.g. the case timers) offer a `lifespan` of their own
        async with AsyncExitStack() as stack:
            for module in (*api_modules, *top_modules):
                if hasattr(module, "lifespan"):
                    await stack.enter_async_context(module.lifespan(app))
            yield
        for module in top_modules:
            hook = getattr(module, "on_shutdown", None)
            if hook is not None:
                await hook()

    handlers = {CivicgridError: civicgrid_error, HTTPException: http_error, Exception: internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    # the access layer sits inside the parts' middleware (which only rewrite requests) and in front
    # of every route, the mounted pygeoapi included
    from civicgrid.security.access import AccessMiddleware, check_coverage

    check_coverage()
    app.add_middleware(AccessMiddleware)
    for module in top_modules:
        for middleware in getattr(module, "middleware", ()):
            app.add_middleware(middleware)
    return app
