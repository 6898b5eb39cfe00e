"""HTTP routes of GeoServer publishing (mounted under /api; admins only, security/access.yml).

- GET  /geoserver/status    what the configured GeoServer holds compared with what publish would make
                            it: `{"configured", "url", "workspace", "group", "version", "steps": [{kind,
                            name, action, detail}], "pending"}` (nothing is changed; `configured: false`
                            and no steps when CIVICGRID_GEOSERVER_URL or the password is unset)
- POST /geoserver/publish   `{"dry_run": bool}`: the plan, or the plan carried out — the same answer with
                            `"applied": true`. Not configured: 409 naming the setting; GeoServer
                            unreachable or refusing: 502 naming the reason (never a password)
The web app's 区平台对接 page (GeoServer 发布) uses both; `civicgrid geoserver` is the same from the shell.
"""
from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.errors import Conflict
from civicgrid.inputs import read_model
from civicgrid.settings import get_settings

__all__ = ["routes"]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False


def _configured(settings) -> bool:
    return bool(settings.geoserver_url and settings.geoserver_password is not None)


def _steps(steps) -> list[dict]:
    """Each step as JSON; `detail` in Chinese where it is words (the CLI prints the English one)."""
    return [{"kind": s.kind, "name": s.name, "action": s.action, "detail": s.detail if s.zh is None else s.zh}
            for s in steps]


def status() -> dict:
    from civicgrid.geoserver.publish import client_from, plan_publish, target, version

    settings = get_settings()
    answer = {"configured": _configured(settings), "url": settings.geoserver_url,
              "workspace": settings.geoserver_workspace, "group": f"{settings.geoserver_workspace}_map"}
    if not answer["configured"]:
        return {**answer, "version": None, "steps": [], "pending": 0}
    t = target(settings)
    cl = client_from(settings, t)
    steps = plan_publish(cl, t)
    return {**answer, "version": version(cl), "steps": _steps(steps),
            "pending": sum(s.action != "unchanged" for s in steps)}


def publish(dry_run: bool) -> dict:
    from civicgrid.geoserver.publish import apply, client_from, plan_publish, target

    settings = get_settings()
    if not _configured(settings):
        missing = "CIVICGRID_GEOSERVER_URL" if not settings.geoserver_url else "CIVICGRID_GEOSERVER_PASSWORD"
        raise Conflict(f"GeoServer publishing is not configured: {missing} is not set", field=missing)
    t = target(settings)
    cl = client_from(settings, t)
    steps = plan_publish(cl, t)
    pending = sum(s.action != "unchanged" for s in steps)
    if not dry_run and pending:
        apply(steps, lambda line: None)
    return {"url": cl.url, "dry_run": dry_run, "applied": not dry_run and pending > 0, "pending": pending,
            "steps": _steps(steps)}


def _json(value) -> Response:
    return Response(json.dumps(value, ensure_ascii=False), media_type="application/json")


async def get_status(request: Request) -> Response:
    return _json(await run_in_threadpool(status))


async def post_publish(request: Request) -> Response:
    body = await read_model(request, PublishIn, empty_ok=True)
    return _json(await run_in_threadpool(publish, body.dry_run))


routes = [
    Route("/geoserver/status", get_status, methods=["GET"]),
    Route("/geoserver/publish", post_publish, methods=["POST"]),
]
