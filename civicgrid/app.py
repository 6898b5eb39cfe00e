"""The one ASGI app behind `civicgrid serve`: the web map at `/`, our API at `/api`, pygeoapi at `/ogc`.

Each part of civicgrid that offers HTTP routes exposes `routes` (a list of Starlette routes) in
its `api` module; the parts are listed in API_PARTS. Errors are mapped to JSON in one place.
"""
from __future__ import annotations

import importlib
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

from civicgrid.errors import CivicgridError

log = logging.getLogger("civicgrid")

# Modules whose `routes` are mounted under /api (a part not written yet is skipped).
API_PARTS = (
    "civicgrid.layers.api",
    "civicgrid.cases.api",
    "civicgrid.survey.api",
    "civicgrid.processes.api",
)

# Modules whose `mount(app_routes)` hook adds routes outside /api (pygeoapi at /ogc, the web UI at /).
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
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def landing(request: Request) -> HTMLResponse:
    return HTMLResponse("""<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>civicgrid 仁和镇综合执法指挥中心</title>
<h1>civicgrid · 仁和镇综合执法指挥中心</h1>
<ul><li><a href="/ogc">OGC API (/ogc)</a></li><li><a href="/api/health">API 健康检查 (/api/health)</a></li></ul>
</html>""")


async def health(request: Request) -> JSONResponse:
    from civicgrid.db import connect

    with connect() as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM unit_grid) AS unit_grids, (SELECT count(*) FROM component) AS components"
        ).fetchone()
    return JSONResponse({"status": "ok", **counts})


def create_app() -> Starlette:
    api_routes: list = [Route("/health", health)]
    for name in API_PARTS:
        module = _optional_module(name)
        if module is not None:
            api_routes.extend(module.routes)
    routes: list = [Mount("/api", routes=api_routes)]
    top_modules = [m for m in map(_optional_module, TOP_PARTS) if m is not None]
    for module in top_modules:
        module.mount(routes)
    if not any(getattr(r, "path", None) == "" or getattr(r, "path", None) == "/" for r in routes):
        routes.append(Route("/", landing))
    return Starlette(routes=routes, exception_handlers={CivicgridError: civicgrid_error})
