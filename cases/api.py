"""HTTP routes of the cases part (mounted under /api by civicgrid.app).

Intake: POST /cases (JSON, or multipart with a `payload` JSON field and photo files `photos`,
`photos_before`, `photos_after`, `snapshot`; header Idempotency-Key). Transitions:
GET /cases/{id}/actions (what the caller may do, with forms),
POST /cases/{id}/actions/{action} with {"version", "comment", "data", "photos"} (or multipart).
Views: /cases, /inbox, /cases/{id}, /cases/{id}/timeline, /cases/overdue, /cases/overview,
/departments/{code}/queue, /officers/{id}/tasks. Attachments: POST /attachments, GET /attachments/{sha256}.
Admin: /workflows, /workflows/validate, /workflows/{code}, /workflows/{code}/versions/{v}/activate, /workflow-rules,
/workflow-rules/preview.
"""
from __future__ import annotations

from typing import Annotated

import psycopg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from civicgrid.cases import attachments, catalog, engine, forms, inbox, intake, open311, suggest, views
from civicgrid.cases import query as case_query
from civicgrid.cases import workflow as wfmod
from civicgrid.cases.roles import Actor, current_actor
from civicgrid.cases.worker import lifespan
from civicgrid.db.errors import translate
from civicgrid.errors import CivicgridError, InvalidInput, NotFound
from civicgrid.http import query_int
from civicgrid.inputs import check_text, loads, parse_model
from civicgrid.security import rows as row_security
from civicgrid.security.principal import current_principal
from civicgrid.state import AppState, app_state

__all__ = ["lifespan", "routes"]   # the part's hooks (civicgrid.app): case timers beside the server, the routes

PHOTO_FIELDS = ("photos", "photos_before", "photos_after", "snapshot")


async def _run(fn, *args):
    try:
        return await run_in_threadpool(fn, *args)
    except psycopg.Error as exc:
        raise translate(exc) from exc


_int = query_int


async def _body(request: Request, actor: Actor) -> dict:
    """JSON body, or multipart: a `payload` JSON field plus photo files (stored before the case is)."""
    ctype = request.headers.get("content-type", "")  # the body's size limit is the access layer's (access.yml)
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=40, max_fields=50, max_part_size=attachments.MAX_BYTES + 1)
        except CivicgridError:
            raise
        except Exception as exc:  # malformed multipart or a part over the size limit
            raise InvalidInput(f"unreadable multipart body: {exc}", field="body") from None
        payload = loads(form.get("payload") or "{}", "payload")
        if not isinstance(payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        for name in PHOTO_FIELDS:
            for upload in form.getlist(name):
                if isinstance(upload, str):
                    continue
                content = await upload.read()
                sha, media_type, size = attachments.save(content, field=name)
                await _run(_register, app_state(request), sha, media_type, size, actor.user)
                payload.setdefault(name, []).append(sha)
        return payload
    raw = await request.body()
    if not raw:
        return {}
    payload = loads(raw)
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    return payload


def _register(state: AppState, sha, media_type, size, user):
    with state.pool.connection() as conn:
        attachments.register(conn, sha, media_type, size, user)


# ---------------------------------------------------------------- intake and transitions

async def create_case(request: Request) -> JSONResponse:
    actor = current_actor()
    payload = await _body(request, actor)
    state = app_state(request)
    answer, created = await _run(intake.intake, state.pool, payload, actor, request.headers.get("idempotency-key"),
                                 state.cases)
    return JSONResponse(answer, status_code=201 if created else 200,
                        headers={"Location": f"/api/cases/{answer['id']}",
                                 **({} if created else {"Idempotent-Replayed": "true"})})


def _act(state: AppState, case_id: int, action: str, payload: dict, actor: Actor) -> dict:
    body = engine.parse(payload)
    principal = current_principal()
    with state.pool.connection() as conn:
        row_security.enter(conn, principal)  # a case the caller may not see cannot be acted on: 404
        engine.act(conn, case_id, action, body, actor, state.cases)
        # commit before reading the answer: the transaction holds hot rows (the tile cache's layer
        # version, bumped by a trigger on cases) and should not keep them over another round trip
        conn.commit()
        row_security.enter(conn, principal)
        return views.case_detail(conn, case_id, actor, state.cases, with_timeline=False)


async def case_action(request: Request) -> JSONResponse:
    actor = current_actor()
    payload = await _body(request, actor)
    if "version" not in payload and request.headers.get("if-match"):
        try:
            payload["version"] = int(request.headers["if-match"].strip('"W/'))
        except ValueError:
            raise InvalidInput("If-Match must be the case version", field="If-Match") from None
    if "version" not in payload:
        raise InvalidInput("version is required (the case version you saw)", field="version")
    result = await _run(_act, app_state(request), request.path_params["id"], request.path_params["action"],
                        payload, actor)
    return JSONResponse(result, headers={"ETag": f'"{result.get("version")}"'})


# ---------------------------------------------------------------- views

def _with_conn(state: AppState, fn, *args):
    """Reads run under the caller's row-level rules (db/migrations/0610_row_security.sql)."""
    principal = current_principal()
    with state.pool.connection() as conn:
        row_security.enter(conn, principal)
        return fn(conn, *args)


async def get_case(request: Request) -> JSONResponse:
    actor = current_actor()
    state = app_state(request)
    out = await _run(_with_conn, state, views.case_detail, request.path_params["id"], actor, state.cases)
    return JSONResponse(out, headers={"ETag": f'"{out.get("version")}"'} if "version" in out else None)


async def get_actions(request: Request) -> JSONResponse:
    """办理: what this caller may do to the case now, each action with its form (cases/forms.py)."""
    actor = current_actor()
    state = app_state(request)
    out = await _run(_with_conn, state, forms.case_actions, request.path_params["id"], actor, state.cases)
    return JSONResponse(out, headers={"ETag": f'"{out["version"]}"'})


async def get_inbox(request: Request) -> JSONResponse:
    """待办: the caller's inboxes (one per role) with counts, and one page of the chosen box (cases/inbox.py)."""
    actor = current_actor()
    state = app_state(request)
    return JSONResponse(await _run(_with_conn, state, inbox.inbox, actor, state.cases, request.query_params))


async def get_timeline(request: Request) -> JSONResponse:
    return JSONResponse(await _run(_with_conn, app_state(request), views.timeline, request.path_params["id"]))


async def list_cases(request: Request) -> JSONResponse:
    """事件查询: the filters of cases/query.py; `total` counts every match, `cases` is one page."""
    actor = current_actor()
    found = case_query.parse(request.query_params)
    limit = _int(request, "limit", 100, 1, 1000)
    offset = _int(request, "offset", 0, 0, 1_000_000)
    state = app_state(request)
    rows, total = await _run(_with_conn, state, views.list_cases, actor, state.cases, found.where(), found.params,
                             found.order, limit, offset)
    return JSONResponse({"cases": rows, "count": len(rows), "total": total, "offset": offset})


async def duplicate_suggestions(request: Request) -> JSONResponse:
    """疑似重复 of a report being typed on the intake page (cases/suggest.py), under the caller's row rules."""
    state = app_state(request)
    return JSONResponse(await _run(_with_conn, state, suggest.duplicates, request.query_params, state.cases))


async def list_cameras(request: Request) -> JSONResponse:
    return JSONResponse({"items": await _run(_with_conn, app_state(request), suggest.cameras)})


async def catalog_tree(request: Request) -> JSONResponse:
    return JSONResponse({"tree": await _run(_with_conn, app_state(request), catalog.tree)})


async def overdue(request: Request) -> JSONResponse:
    actor = current_actor()
    state = app_state(request)
    rows = await _run(_with_conn, state, views.overdue, actor, state.cases, _int(request, "limit", 500, 1, 5000))
    return JSONResponse({"cases": rows, "count": len(rows)})


async def overview(request: Request) -> JSONResponse:
    return JSONResponse(await _run(_with_conn, app_state(request), views.overview))


async def department_queue(request: Request) -> JSONResponse:
    actor = current_actor()
    state = app_state(request)
    rows = await _run(_with_conn, state, views.department_queue, request.path_params["code"], actor, state.cases,
                      _int(request, "limit", 200, 1, 1000))
    return JSONResponse({"cases": rows, "count": len(rows)})


async def officer_tasks(request: Request) -> JSONResponse:
    actor = current_actor()
    state = app_state(request)
    rows = await _run(_with_conn, state, views.officer_tasks, request.path_params["id"], actor, state.cases,
                      _int(request, "limit", 200, 1, 1000))
    return JSONResponse({"cases": rows, "count": len(rows)})


# ---------------------------------------------------------------- attachments

async def upload_attachment(request: Request) -> JSONResponse:
    actor = current_actor()
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the photo as multipart/form-data field `file`", field="file")
    form = await request.form(max_files=1, max_part_size=attachments.MAX_BYTES + 1)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("multipart field `file` is missing", field="file")
    sha, media_type, size = attachments.save(await upload.read(), field="file")
    await _run(_register, app_state(request), sha, media_type, size, actor.user)
    return JSONResponse({"sha256": sha, "media_type": media_type, "size": size, "url": f"/api/attachments/{sha}"},
                        status_code=201)


async def get_attachment(request: Request) -> Response:
    sha = request.path_params["sha"]
    if not attachments.is_sha256(sha):
        raise InvalidInput("not a sha256 digest", field="sha256")
    content, media_type = await _run(_with_conn, app_state(request), attachments.read, sha)
    return Response(content, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})


# ---------------------------------------------------------------- workflow admin

async def list_workflows(request: Request) -> JSONResponse:
    def run(conn):
        return [views.jsonable(r) for r in conn.execute(
            "SELECT code, version, name, is_active, created_at, created_by FROM workflow ORDER BY code, version").fetchall()]
    return JSONResponse({"workflows": await _run(_with_conn, app_state(request), run)})


async def get_workflow(request: Request) -> JSONResponse:
    code = request.path_params["code"]
    version = request.query_params.get("version")
    if version is not None and not version.isdigit():
        raise InvalidInput("version must be a positive integer", field="version")

    state = app_state(request)

    def run(conn):
        wf = state.cases.workflows.get(conn, code, int(version) if version else None)
        return {"code": wf.code, "version": wf.version, "name": wf.name, "definition": wf.definition}
    return JSONResponse(await _run(_with_conn, state, run))


async def _definition(request: Request) -> tuple[str, object]:
    """The body's text and the definition in it (a bare definition, or {"definition": …})."""
    raw = await request.body()
    try:
        raw = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body is not valid UTF-8 (byte {exc.start})", field="body") from None
    check_text(raw, "body")
    if not raw.strip():
        raise InvalidInput("send a workflow definition (JSON or YAML)", field="body")
    definition = wfmod.parse_text(raw)
    if isinstance(definition, dict) and "definition" in definition and "states" not in definition:
        definition = definition["definition"]
    return raw, definition


def _compiled(raw: str, fn, *args):
    """Errors of a definition carry the line and column of their place in the text that was sent."""
    try:
        return fn(*args)
    except wfmod.WorkflowInvalid as exc:
        raise exc.located(raw) from None


async def validate_workflow(request: Request) -> JSONResponse:
    """Errors: 400 {code, description, field (the first place), errors: [{path, message, line, column}]}."""
    raw, definition = await _definition(request)
    wf = _compiled(raw, wfmod.compile_definition, definition)
    return JSONResponse({"valid": True, "code": wf.code, "states": list(wf.states), "transitions": len(wf.transitions)})


async def create_workflow(request: Request) -> JSONResponse:
    raw, definition = await _definition(request)
    activate = request.query_params.get("activate", "false") in ("1", "true")

    state = app_state(request)

    def run(conn):
        return _compiled(raw, wfmod.store, conn, definition, activate, state.cases.workflows)
    return JSONResponse(await _run(_with_conn, state, run), status_code=201)


async def activate_workflow(request: Request) -> JSONResponse:
    code, version = request.path_params["code"], request.path_params["version"]

    state = app_state(request)

    def run(conn):
        wfmod.activate_version(conn, code, version, state.cases.workflows)
        return {"code": code, "version": version, "is_active": True}
    return JSONResponse(await _run(_with_conn, state, run))


async def list_rules(request: Request) -> JSONResponse:
    return JSONResponse({"rules": await _run(_with_conn, app_state(request), lambda conn: conn.execute(
        "SELECT * FROM workflow_rule ORDER BY id").fetchall())})


class RuleIn(BaseModel):
    """A workflow selection rule: channel × category prefix × self-handled → workflow (NULL = any)."""

    model_config = ConfigDict(extra="forbid")
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,20}$")] | None = None
    category_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")] | None = None
    self_handled: bool | None = None
    workflow_code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    note: str | None = Field(default=None, max_length=200)


async def create_rule(request: Request) -> JSONResponse:
    actor = current_actor()
    rule = parse_model(RuleIn, await _body(request, actor))
    payload = rule.model_dump()
    allowed = set(payload)

    def run(conn):
        wfmod.check_rule_target(conn, payload["workflow_code"])
        return conn.execute(
            "INSERT INTO workflow_rule (channel, category_prefix, self_handled, workflow_code, note) "
            "VALUES (%(channel)s, %(category_prefix)s, %(self_handled)s, %(workflow_code)s, %(note)s) "
            "ON CONFLICT ON CONSTRAINT workflow_rule_unique DO UPDATE SET workflow_code = EXCLUDED.workflow_code, "
            "note = EXCLUDED.note RETURNING *",
            {k: payload.get(k) for k in allowed}).fetchone()
    return JSONResponse(await _run(_with_conn, app_state(request), run), status_code=201)


async def delete_rule(request: Request) -> Response:

    def run(conn):
        if conn.execute("DELETE FROM workflow_rule WHERE id = %s RETURNING id", [request.path_params["id"]]).fetchone() is None:
            raise NotFound("no such rule", field="id")
    await _run(_with_conn, app_state(request), run)
    return Response(status_code=204)


async def preview_rule(request: Request) -> JSONResponse:
    """Which workflow (and version, first state) a new case with this channel and category would get."""
    channel = request.query_params.get("channel") or ""
    code = request.query_params.get("category") or ""
    flag = request.query_params.get("self_handled", "false").lower()
    if flag not in ("true", "false", "1", "0"):
        raise InvalidInput("self_handled must be true or false", field="self_handled")
    if not code:
        raise InvalidInput("category is required (a category code)", field="category")
    state = app_state(request)

    def run(conn):
        if not conn.execute("SELECT 1 FROM case_channel WHERE code = %s", [channel]).fetchone():
            raise InvalidInput(f"unknown channel {channel!r}", field="channel")
        category, _ = state.cases.catalog(conn).resolve(code, field="category")
        found = wfmod.preview(conn, state.cases.workflows, channel, category.code, flag in ("true", "1"))
        return {"channel": channel, "self_handled": flag in ("true", "1"),
                "category": {"code": category.code, "name": category.name, "standard": category.standard}, **found}
    return JSONResponse(await _run(_with_conn, state, run))


routes = [
    Route("/cases", create_case, methods=["POST"]),
    Route("/cases", list_cases, methods=["GET"]),
    Route("/cases/overdue", overdue, methods=["GET"]),
    Route("/cases/duplicates", duplicate_suggestions, methods=["GET"]),
    Route("/cameras", list_cameras, methods=["GET"]),
    Route("/inbox", get_inbox, methods=["GET"]),
    Route("/catalog", catalog_tree, methods=["GET"]),
    Route("/cases/overview", overview, methods=["GET"]),
    Route("/cases/{id:int}", get_case, methods=["GET"]),
    Route("/cases/{id:int}/timeline", get_timeline, methods=["GET"]),
    Route("/cases/{id:int}/actions", get_actions, methods=["GET"]),
    Route("/cases/{id:int}/actions/{action}", case_action, methods=["POST"]),
    Route("/departments/{code}/queue", department_queue, methods=["GET"]),
    Route("/officers/{id:int}/tasks", officer_tasks, methods=["GET"]),
    Route("/attachments", upload_attachment, methods=["POST"]),
    Route("/attachments/{sha}", get_attachment, methods=["GET"]),
    Route("/workflows", list_workflows, methods=["GET"]),
    Route("/workflows", create_workflow, methods=["POST"]),
    Route("/workflows/validate", validate_workflow, methods=["POST"]),
    Route("/workflows/{code}", get_workflow, methods=["GET"]),
    Route("/workflows/{code}/versions/{version:int}/activate", activate_workflow, methods=["POST"]),
    Route("/workflow-rules", list_rules, methods=["GET"]),
    Route("/workflow-rules", create_rule, methods=["POST"]),
    Route("/workflow-rules/preview", preview_rule, methods=["GET"]),
    Route("/workflow-rules/{id:int}", delete_rule, methods=["DELETE"]),
]
routes += open311.routes
