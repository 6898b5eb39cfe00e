"""HTTP routes of search (mounted under /api): GET /search (find.py), GET /labels (labels.py)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.db import reads
from civicgrid.errors import InvalidInput
from civicgrid.http import query_int
from civicgrid.search import find
from civicgrid.search import labels as labels_mod
from civicgrid.security.principal import current_principal
from civicgrid.state import app_state


async def search(request: Request) -> JSONResponse:
    unknown = set(request.query_params) - {"q", "limit", "types"}
    if unknown:
        raise InvalidInput(f"unknown parameter(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    q, types = find.parse(request.query_params.get("q"), request.query_params.get("types"))
    limit = query_int(request, "limit", 10, 1, find.MAX_LIMIT)
    principal = current_principal()
    items = await reads.read_sync(request, lambda conn: find.search(conn, q, types, limit, principal))
    return JSONResponse({"query": q, "items": items}, headers={"Cache-Control": "no-store"})


async def labels(request: Request) -> Response:
    state = app_state(request)
    found = labels_mod.fresh(state)
    if found is None:
        found = state.labels = await reads.read_sync(request, labels_mod.build)
    headers = {"ETag": found.etag, "Cache-Control": "no-cache"}
    if found.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="application/json", headers=headers)


routes = [
    Route("/search", search, methods=["GET"]),
    Route("/labels", labels, methods=["GET"]),
]
