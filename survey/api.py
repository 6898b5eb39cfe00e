"""/api/survey — the survey over HTTP for GIS editors: upload → job → report.

POST /api/survey/uploads             multipart (file, crs, standard, batch, mapping = YAML text, replace) → 202 + job
GET  /api/survey/jobs/{id}           job state; when done, the batch summary
GET  /api/survey/batches             all batches
GET  /api/survey/batches/{name}      one batch summary (counts per check)
GET  /api/survey/batches/{name}/issues?check=&severity=&limit=&offset=
GET  /api/survey/batches/{name}/report   changes against the live layer + coverage (JSON)
POST /api/survey/batches/{name}/publish  {"valid_only": bool}
POST /api/survey/batches/{name}/rollback
GET  /api/survey/coverage            coverage of the live layer (JSON)
GET  /api/survey/export?format=&crs=&standard=&class=   the live layer as a file
GET  /api/survey/catalog-mapping[?unmapped=true&standard=]

The web workspace (survey/workspace.py):
GET  /api/survey/batches/{name}/rows?problems=&check=&limit=   the rows as GeoJSON, with their state
GET  /api/survey/batches/{name}/rows/{id}              one row (id: its number in the file) with all its checks
PATCH /api/survey/batches/{name}/rows/{id}             {attrs: {GLBJMC: …, LXDM: …}, geometry, note} → correct, re-check
POST /api/survey/batches/{name}/check                  run the checks again
GET  /api/survey/batches/{name}/corrections            what was corrected, by whom, when
GET  /api/survey/batches/{name}/report.xlsx | report.html   the report as a file (HTML in one file)
GET  /api/survey/coverage/grids?standard=&class=       components per unit grid (choropleth) as GeoJSON
GET  /api/survey/changes?batch=&since=&until=          a published batch's new/moved/changed components

Jobs run in a worker thread of the serving process; their state lives in survey_job (PostgreSQL),
so a client can poll any worker. The upload is kept under CIVICGRID_DATA_DIR/uploads until read.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from pathlib import Path

from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from civicgrid.db import connect
from civicgrid.errors import CivicgridError, InvalidInput, NotFound
from civicgrid.http import query_int
from civicgrid.inputs import parse_model, read_model
from civicgrid.settings import get_settings
from civicgrid.survey import service
from civicgrid.survey.reader import FORMATS

MAX_UPLOAD = 512 * 1024 * 1024


def _json(data, status: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(data, ensure_ascii=False, default=str)), status_code=status)


def _actor(request: Request) -> str:
    from civicgrid.security.principal import current_principal

    return current_principal().user


class UploadOptions(BaseModel):
    crs: str | None = Field(default=None, max_length=20)
    standard: str = Field(default="gbt47678", max_length=30)
    batch: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    mapping: str | None = Field(default=None, max_length=100_000)
    replace: bool = False


def _run_job(job_id: str, path: str, file_name: str, options: dict, actor: str) -> None:
    with connect() as conn:
        conn.execute("UPDATE survey_job SET status = 'running' WHERE id = %s", [job_id])
        conn.commit()
    try:
        outcome = service.import_file(path, crs=options.get("crs"), standard=options.get("standard"),
                                      mapping=options.get("mapping") or None, batch=options.get("batch"),
                                      file_name=file_name, actor=actor, replace=bool(options.get("replace")))
        result = {"created": outcome.created, **outcome.summary}
        status, error, batch = "done", None, outcome.batch
    except CivicgridError as exc:
        status, result, error, batch = "failed", None, exc.to_json(), None
    except Exception as exc:  # a job must end in a state the client can read
        status, result, error, batch = "failed", None, {"code": "ServerError", "description": str(exc)}, None
    finally:
        Path(path).unlink(missing_ok=True)
    with connect() as conn:
        conn.execute("UPDATE survey_job SET status = %s, result = %s, error = %s, batch = %s, finished_at = now() "
                     "WHERE id = %s", [status, json.dumps(result, ensure_ascii=False, default=str) if result else None,
                                        json.dumps(error, ensure_ascii=False) if error else None, batch, job_id])
        conn.commit()


async def upload(request: Request) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send multipart/form-data with a 'file' part", field="file")
    form = await request.form(max_part_size=MAX_UPLOAD)
    upload_file = form.get("file")
    if upload_file is None or not hasattr(upload_file, "filename"):
        raise InvalidInput("the 'file' part is missing", field="file")
    name = Path(upload_file.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS or suffix == ".shp":
        raise InvalidInput(f"unsupported file type {suffix or name!r}: .gpkg, .zip (Shapefile), .geojson, .csv, .dxf",
                           field="file")
    options = parse_model(UploadOptions, {**{k: form.get(k) or None for k in ("crs", "batch", "mapping")},
                                          **({"standard": form.get("standard")} if form.get("standard") else {}),
                                          **({"replace": form.get("replace")} if form.get("replace") else {})})
    if options.crs:
        from civicgrid.survey.reader import parse_crs
        parse_crs(options.crs)
    if options.mapping:
        from civicgrid.survey.mapping import load_mapping
        load_mapping(options.mapping)  # fail now with 400, not later in the job
    folder = get_settings().data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    job_id = str(uuid.uuid4())
    target = folder / f"{job_id}{suffix}"
    with open(target, "wb") as fh:
        while chunk := await upload_file.read(1 << 20):
            fh.write(chunk)
    opts = options.model_dump(exclude_none=True)
    with connect() as conn:
        conn.execute("INSERT INTO survey_job (id, status, file_name, options, created_by) VALUES (%s, 'queued', %s, %s, %s)",
                     [job_id, name, json.dumps({k: v for k, v in opts.items() if k != "mapping"}), _actor(request)])
        conn.commit()
    task = BackgroundTask(asyncio.to_thread, _run_job, job_id, str(target), name, opts, _actor(request))
    return JSONResponse({"job": job_id, "status": "queued", "href": f"/api/survey/jobs/{job_id}"},
                        status_code=202, headers={"Location": f"/api/survey/jobs/{job_id}"}, background=task)


async def job(request: Request) -> JSONResponse:
    job_id = request.path_params["id"]
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no survey job {job_id!r}", field="id") from None
    with connect() as conn:
        row = conn.execute("SELECT id::text, status, file_name, batch, result, error, created_at, finished_at "
                           "FROM survey_job WHERE id = %s", [job_id]).fetchone()
    if not row:
        raise NotFound(f"no survey job {job_id!r}", field="id")
    if row["batch"]:
        row["report"] = f"/api/survey/batches/{row['batch']}/report"
    return _json(row)


async def batches(request: Request) -> JSONResponse:
    return _json(await asyncio.to_thread(service.list_batches))


async def batch(request: Request) -> JSONResponse:
    return _json(await asyncio.to_thread(service.get_batch, request.path_params["name"]))


_int = query_int


async def issues(request: Request) -> JSONResponse:
    q = request.query_params
    severity = q.get("severity")
    if severity not in (None, "error", "warning", "info"):
        raise InvalidInput("severity must be error, warning or info", field="severity")
    rows = await asyncio.to_thread(service.list_issues, request.path_params["name"], check=q.get("check"),
                                   severity=severity, limit=_int(request, "limit", 1000, 1, 100000),
                                   offset=_int(request, "offset", 0, 0, 10**9))
    return _json(rows)


async def report(request: Request) -> JSONResponse:
    from civicgrid.survey.report import build_report

    return _json(await asyncio.to_thread(build_report, request.path_params["name"]))


async def coverage(request: Request) -> JSONResponse:
    from civicgrid.survey.report import build_report

    return _json((await asyncio.to_thread(build_report, None))["coverage"])


class PublishBody(BaseModel):
    valid_only: bool = False


async def publish(request: Request) -> JSONResponse:
    body = await read_model(request, PublishBody, empty_ok=True)
    return _json(await asyncio.to_thread(service.publish, request.path_params["name"], valid_only=body.valid_only,
                                         actor=_actor(request)))


async def rollback(request: Request) -> JSONResponse:
    return _json(await asyncio.to_thread(service.rollback, request.path_params["name"], actor=_actor(request)))


async def export(request: Request) -> FileResponse:
    from civicgrid.survey.export import ExportParams, export_layer

    q = request.query_params
    params = parse_model(ExportParams, {k: v for k, v in {"format": q.get("format"), "crs": q.get("crs"),
                                                          "standard": q.get("standard"), "type_code": q.get("class")}.items()
                                        if v is not None}, rename={"type_code": "class"})
    ext = {"shp": "zip"}.get(params.format, params.format)
    tmp = Path(tempfile.mkdtemp(prefix="civicgrid-export-"))
    out = tmp / f"component.{ext}"

    def cleanup() -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        result = await asyncio.to_thread(export_layer, out, params)
    except BaseException:
        cleanup()   # a refused or failed export leaves no folder behind
        raise

    return FileResponse(out, filename=out.name, background=BackgroundTask(cleanup),
                        headers={"X-Civicgrid-Exported": str(result["exported"]),
                                 "X-Civicgrid-Unmapped": str(sum(u["components"] for u in result["unmapped"]))})


async def catalog_mapping(request: Request) -> JSONResponse:
    q = request.query_params
    if q.get("unmapped", "false").lower() in ("1", "true", "yes"):
        return _json(await asyncio.to_thread(service.unmapped_codes, q.get("standard")))
    return _json(await asyncio.to_thread(service.catalog_mapping))


# ---------------------------------------------------------------- the web workspace

def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("1", "0", "true", "false", "yes", "no"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return value in ("1", "true", "yes")


async def rows(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import rows_geojson

    q = request.query_params
    check = q.get("check") or None
    if check is not None and len(check) > 40:
        raise InvalidInput("check: a check code such as grid_mismatch", field="check")
    return _json(await asyncio.to_thread(rows_geojson, request.path_params["name"], problems=_flag(request, "problems"),
                                         check=check, limit=_int(request, "limit", 5000, 1, 50000)))


async def row(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import get_row

    return _json(await asyncio.to_thread(get_row, request.path_params["name"], request.path_params["id"]))


class Correction(BaseModel):
    attrs: dict[str, str | None] = Field(default_factory=dict, max_length=40)
    geometry: dict | None = None
    note: str | None = Field(default=None, max_length=500)


async def correct(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import correct_row

    body = await read_model(request, Correction)
    return _json(await asyncio.to_thread(correct_row, request.path_params["name"], request.path_params["id"],
                                         attrs=body.attrs, geometry=body.geometry, note=body.note,
                                         actor=_actor(request)))


async def check(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import recheck

    return _json(await asyncio.to_thread(recheck, request.path_params["name"]))


async def corrections(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import list_corrections

    return _json(await asyncio.to_thread(list_corrections, request.path_params["name"]))


def _download_name(name: str, ext: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="survey-report-{name}.{ext}"'}


async def report_xlsx(request: Request):
    from starlette.responses import Response

    from civicgrid.survey.report import build_report, write_xlsx

    name = request.path_params["name"]

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="civicgrid-report-") as tmp:
            return write_xlsx(build_report(name), Path(tmp) / "report.xlsx").read_bytes()

    return Response(await asyncio.to_thread(build), headers=_download_name(name, "xlsx"),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def report_html(request: Request):
    from starlette.responses import HTMLResponse

    from civicgrid.survey.report import standalone_html

    name = request.path_params["name"]
    page = await asyncio.to_thread(standalone_html, name)
    headers = _download_name(name, "html") if _flag(request, "download") else {}
    return HTMLResponse(page, headers=headers)


async def coverage_grids(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import coverage_geojson

    q = request.query_params
    type_code = q.get("class") or None
    if type_code is not None and not type_code.isdigit():
        raise InvalidInput("class: a component class code (digits)", field="class")
    return _json(await asyncio.to_thread(coverage_geojson, standard=q.get("standard") or None, type_code=type_code))


def _when(request: Request, name: str):
    from datetime import datetime

    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}: an ISO 8601 date or time (2026-12-01T08:00:00+08:00)", field=name) from None


async def changes(request: Request) -> JSONResponse:
    from civicgrid.survey.workspace import changes_geojson

    return _json(await asyncio.to_thread(changes_geojson, request.query_params.get("batch") or None,
                                         since=_when(request, "since"), until=_when(request, "until")))


routes = [
    Route("/survey/uploads", upload, methods=["POST"]),
    Route("/survey/jobs/{id}", job),
    Route("/survey/batches", batches),
    Route("/survey/batches/{name}", batch),
    Route("/survey/batches/{name}/issues", issues),
    Route("/survey/batches/{name}/report", report),
    Route("/survey/batches/{name}/publish", publish, methods=["POST"]),
    Route("/survey/batches/{name}/rollback", rollback, methods=["POST"]),
    Route("/survey/coverage", coverage),
    Route("/survey/batches/{name}/rows", rows),
    Route("/survey/batches/{name}/rows/{id:int}", row),
    Route("/survey/batches/{name}/rows/{id:int}", correct, methods=["PATCH"]),
    Route("/survey/batches/{name}/check", check, methods=["POST"]),
    Route("/survey/batches/{name}/corrections", corrections),
    Route("/survey/batches/{name}/report.xlsx", report_xlsx),
    Route("/survey/batches/{name}/report.html", report_html),
    Route("/survey/coverage/grids", coverage_grids),
    Route("/survey/changes", changes),
    Route("/survey/export", export),
    Route("/survey/catalog-mapping", catalog_mapping),
]
