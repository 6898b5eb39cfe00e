"""The web app at `/`: Vite's build in web/dist (hashed assets, index.html) and the imagery archive.

`mount(routes, state)` is called by civicgrid.app after /api and /ogc are in place, so the catch-all
comes last. /assets/* are content-hashed: cached for a year (`immutable`); index.html is revalidated
every time, so a new build is picked up at the next load. Any other path that is no file of the
build is a client route (vue-router's history mode) and gets index.html — except under the server's
own prefixes (/api, /ogc, /basemap), which answer 404 in the JSON error shape. The imagery PMTiles
archive is served with HTTP range requests (FileResponse answers `Range` with 206), built from the
database on first use when missing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from civicgrid.errors import NotFound

log = logging.getLogger("civicgrid.web")

DIST = Path(__file__).with_name("dist")
IMMUTABLE = "public, max-age=31536000, immutable"
SERVER_PREFIXES = ("api", "ogc", "basemap", "assets")


async def imagery(request: Request) -> Response:
    """The synthetic imagery basemap (影像) as one PMTiles archive; range requests welcome."""
    from civicgrid.web import imagery as builder

    try:
        path = await run_in_threadpool(builder.ensure)
    except LookupError as exc:
        return JSONResponse({"code": "NotFound", "description": str(exc)}, status_code=404)
    return FileResponse(path, media_type="application/vnd.pmtiles",
                        headers={"Cache-Control": "public, max-age=300"})


class HashedAssets(StaticFiles):
    """Vite's content-hashed files: a changed file gets a new name, so they never need revalidating."""

    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


def _index() -> Response:
    index = DIST / "index.html"
    if not index.is_file():
        raise NotFound("the web app is not built: run `cd web && npm ci && npm run build`")
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


async def page(request: Request) -> Response:
    """A file at the top of the build (none today but index.html), else the app for a client route."""
    path = request.path_params.get("path", "")
    first = path.split("/", 1)[0]
    if first in SERVER_PREFIXES:
        raise NotFound(f"no such resource: /{path}", field="path")
    if path and "/" not in path and path != "index.html":
        candidate = DIST / path
        if candidate.is_file():
            return FileResponse(candidate, headers={"Cache-Control": "no-cache"})
    return _index()


def mount(routes: list, state) -> None:
    if not (DIST / "index.html").exists():
        log.warning("web app not built (%s missing): run `cd web && npm ci && npm run build`", DIST / "index.html")
    routes.append(Route("/basemap/imagery.pmtiles", imagery, methods=["GET", "HEAD"]))
    routes.append(Mount("/assets", app=HashedAssets(directory=DIST / "assets", check_dir=False), name="assets"))
    routes.append(Route("/{path:path}", page, methods=["GET", "HEAD"]))
