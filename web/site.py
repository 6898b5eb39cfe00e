"""The web map at `/`: static files (index.html, app.js, app.css, vendor/) and the imagery archive.

`mount(routes, state)` is called by civicgrid.app after /api and /ogc are in place, so the catch-all static
mount comes last. The imagery PMTiles archive is served with HTTP range requests (Starlette's
FileResponse answers `Range` with 206), built from the database on first use when missing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

log = logging.getLogger("civicgrid.web")

STATIC = Path(__file__).with_name("static")


async def imagery(request: Request) -> Response:
    """The synthetic imagery basemap (影像) as one PMTiles archive; range requests welcome."""
    from civicgrid.web import imagery as builder

    try:
        path = await run_in_threadpool(builder.ensure)
    except LookupError as exc:
        return JSONResponse({"code": "NotFound", "description": str(exc)}, status_code=404)
    return FileResponse(path, media_type="application/vnd.pmtiles",
                        headers={"Cache-Control": "public, max-age=300"})


def mount(routes: list, state) -> None:
    vendor = STATIC / "vendor" / "maplibre-gl" / "maplibre-gl.mjs"
    if not vendor.exists():
        log.warning("web map assets missing (%s): run `cd web && npm ci && npm run build`", vendor)
    routes.append(Route("/basemap/imagery.pmtiles", imagery, methods=["GET", "HEAD"]))
    routes.append(Mount("/", app=StaticFiles(directory=STATIC, html=True), name="web"))
