"""OpenAPI 3.1 for `/api` at `/api/openapi.json`, generated from the app's own route table and the
pydantic models the handlers parse their bodies and queries with (a part, see civicgrid.app).

Every route mounted under /api is listed with its methods and path parameters (Starlette's
`{id:int}` becomes an integer parameter); a handler that reads a JSON body or a query through a
model (MODELS) gets that model's JSON schema, so the document and the validation cannot disagree.
Every operation may answer the one error shape of civicgrid.errors (`Error`).
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "description"],
    "properties": {"code": {"type": "string"}, "type": {"type": "string"}, "description": {"type": "string"},
                   "field": {"type": "string"}},
}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "path": {"type": "string"}}


def _models() -> dict[tuple[str, str], dict[str, type[BaseModel]]]:
    """(method, /api path template) → {"body": model} and/or {"query": model}: what the handler parses."""
    from civicgrid.assessment import api as assessment
    from civicgrid.cases.api import RuleIn
    from civicgrid.cases.engine import ActionIn
    from civicgrid.cases.intake import IntakeIn
    from civicgrid.cases.suggest import DuplicatesQuery
    from civicgrid.evaluation import api as evaluation
    from civicgrid.exchange.api import ResendIn
    from civicgrid.exchange.inbound import InboundIn
    from civicgrid.geoserver.api import PublishIn
    from civicgrid.layers.history import HistoryQuery, RevertIn
    from civicgrid.layers.plans import PlanIn, PlanPatch
    from civicgrid.security.admin import KeyIn, RolesIn, UserIn
    from civicgrid.security.api import LoginIn
    from civicgrid.survey.api import PublishBody
    from civicgrid.survey.export import ExportParams

    return {
        ("POST", "/cases"): {"body": IntakeIn},
        ("GET", "/cases/duplicates"): {"query": DuplicatesQuery},
        ("POST", "/cases/{id}/actions/{action}"): {"body": ActionIn},
        ("POST", "/workflow-rules"): {"body": RuleIn},
        ("POST", "/auth/login"): {"body": LoginIn},
        ("POST", "/survey/batches/{name}/publish"): {"body": PublishBody},
        ("GET", "/survey/export"): {"query": ExportParams},
        ("POST", "/plans"): {"body": PlanIn},
        ("PATCH", "/plans/{id}"): {"body": PlanPatch},
        ("GET", "/features/{collection_id}/{feature_id}/history"): {"query": HistoryQuery},
        ("POST", "/features/{collection_id}/{feature_id}/revert"): {"body": RevertIn},
        ("POST", "/exchange/inbound"): {"body": InboundIn},
        ("POST", "/exchange/outbox/resend"): {"body": ResendIn},
        ("POST", "/geoserver/publish"): {"body": PublishIn},
        ("POST", "/admin/users"): {"body": UserIn},
        ("PATCH", "/admin/users/{username}"): {"body": RolesIn},
        ("POST", "/admin/keys"): {"body": KeyIn},
        ("POST", "/assessment/months/{month}/reassess"): {"body": assessment.ReassessIn},
        ("POST", "/assessment/events"): {"body": assessment.EventIn},
        ("POST", "/assessment/events/{id}/decision"): {"body": assessment.DecisionIn},
        ("POST", "/assessment/staff"): {"body": assessment.StaffIn},
        ("POST", "/assessment/roster"): {"body": assessment.RosterIn},
        ("POST", "/assessment/attendance"): {"body": assessment.AttendanceIn},
        ("POST", "/assessment/spot-checks"): {"body": assessment.SpotCheckIn},
        ("POST", "/assessment/lead-absences"): {"body": assessment.LeadAbsenceIn},
        ("POST", "/assessment/inspections"): {"body": assessment.InspectionIn},
        ("POST", "/assessment/faults"): {"body": assessment.FaultIn},
        ("PATCH", "/assessment/faults/{id}"): {"body": assessment.FaultPatch},
        ("POST", "/assessment/reports"): {"body": assessment.ReportIn},
        ("POST", "/evaluation/periods"): {"body": evaluation.PeriodIn},
        ("POST", "/evaluation/periods/{id}/compute"): {"body": evaluation.ComputeIn},
        ("PUT", "/evaluation/method"): {"body": evaluation.MethodIn},
    }


def _schema(model: type[BaseModel], components: dict) -> dict:
    doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in doc.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = doc
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    doc = model.model_json_schema()
    required = set(doc.get("required", []))
    rename = {"type_code": "class"}
    return [{"name": rename.get(name, name), "in": "query", "required": name in required, "schema": prop}
            for name, prop in doc.get("properties", {}).items()]


def api_routes(routes) -> list[Route]:
    for r in routes:
        if isinstance(r, Mount) and r.path == "/api":
            return [x for x in r.routes if isinstance(x, Route)]
    return []


def document(routes, server_url: str = "/api") -> dict:
    models = _models()
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for route in api_routes(routes):
        template = _PARAM.sub(lambda m: "{" + m.group(1) + "}", route.path)
        params = [{"name": m.group(1), "in": "path", "required": True,
                   "schema": _TYPES.get(m.group(2) or "", {"type": "string"})} for m in _PARAM.finditer(route.path)]
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            op: dict[str, Any] = {
                "operationId": f"{method.lower()}_{route.name}",
                "summary": (route.endpoint.__doc__ or route.name).strip().splitlines()[0],
                "responses": {
                    "200": {"description": "success", "content": {"application/json": {"schema": {}}}},
                    "default": {"description": "an error", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}},
                },
            }
            used = models.get((method, template), {})
            query = _query_parameters(used["query"]) if "query" in used else []
            if params or query:
                op["parameters"] = params + query
            if "body" in used:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": _schema(used["body"], components)}}}
            paths.setdefault(template, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "civicgrid /api", "version": "1.0.0",
                 "description": "仁和镇综合执法指挥中心 — cases, survey, identity, health"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"apiKey": []}],
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document(request.app.router.routes))


routes = [Route("/openapi.json", openapi, methods=["GET"])]
