"""HTTP routes of search (mounted under /api): GET /labels (see labels.py)."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.search import labels as labels_mod
from civicgrid.state import app_state


async def labels(request: Request) -> Response:
    found = await run_in_threadpool(labels_mod.current, app_state(request))
    headers = {"ETag": found.etag, "Cache-Control": "no-cache"}
    if found.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="application/json", headers=headers)


routes = [
    Route("/labels", labels, methods=["GET"]),
]
