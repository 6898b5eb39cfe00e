"""Small helpers shared by the parts' HTTP handlers: one function per kind of query parameter."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from civicgrid.errors import CivicgridError, InvalidInput


def error_response(exc: CivicgridError) -> JSONResponse:
    """The one JSON shape of every error: {"code", "description", "field"} with its status and headers."""
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers)


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; a 400 naming the parameter otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", field=name)
    return value
