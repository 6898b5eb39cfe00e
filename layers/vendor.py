"""The scripts and styles of the /ogc HTML pages, served from the npm packages pinned in
web/package.json at /ogc/vendor/<package>/… — pygeoapi's own templates load them from CDNs, which
an offline command center cannot reach (our copies of those templates are in templates/, named by
`server.templates` in the resolved configuration)."""
from __future__ import annotations

import logging
from pathlib import Path

from starlette._utils import get_route_path
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles

from civicgrid.settings import REPO_ROOT

log = logging.getLogger("civicgrid.ogc")

TEMPLATES = Path(__file__).with_name("templates")
NODE_MODULES = REPO_ROOT / "web" / "node_modules"
# URL name → folder inside node_modules: only what the templates use is reachable
PACKAGES = {
    "bootstrap": "bootstrap/dist",
    "leaflet": "leaflet/dist",
    "leaflet.markercluster": "leaflet.markercluster/dist",
    "leaflet-draw": "leaflet-draw/dist",
    "leaflet.vectorgrid": "leaflet.vectorgrid/dist",
    "swagger-ui-dist": "swagger-ui-dist",
}


class VendorFiles:
    """ASGI app for /ogc/vendor: the first path segment picks the package, StaticFiles serves the rest."""

    def __init__(self, root: Path = NODE_MODULES):
        self.apps: dict[str, StaticFiles] = {}
        for name, folder in PACKAGES.items():
            directory = root / folder
            if directory.is_dir():
                self.apps[name] = StaticFiles(directory=directory)
            else:
                log.warning("/ogc/vendor/%s is missing (%s): run `make setup` (npm ci in web/)", name, directory)

    async def __call__(self, scope, receive, send):
        name, _, rest = get_route_path(scope).lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is None or not rest:
            await PlainTextResponse("not found", status_code=404)(scope, receive, send)
            return
        # StaticFiles serves the path below root_path: move the package name into it
        scope = dict(scope, root_path=scope.get("root_path", "") + "/" + name)
        response_started = {}

        async def send_cached(message):
            if message["type"] == "http.response.start" and message["status"] == 200 and not response_started:
                response_started["yes"] = True
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"cache-control", b"public, max-age=86400")])
            await send(message)

        await app(scope, receive, send_cached)
