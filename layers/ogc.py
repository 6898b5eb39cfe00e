"""`/ogc`: pygeoapi mounted in our app, with our fast Features routes in front of it.

Start-up (`lifespan`, entered by civicgrid.app; the result is the app state's `ogc`, an OgcState):
1. read pygeoapi-config.yml (env vars expanded), validate the part we rely on with pydantic —
   an error names the bad key (`resources.cases.providers.0.data: ...`);
2. drop (with a logged warning) every collection whose table/view is missing, instead of failing;
3. set server.url to the real public URL (CIVICGRID_PUBLIC_URL or http://HOST:PORT) + /ogc,
   fill each collection's spatial extent from the town boundary;
4. write the resolved config and its OpenAPI document into a private temp dir, point
   PYGEOAPI_CONFIG / PYGEOAPI_OPENAPI there and import `pygeoapi.starlette_app` (pygeoapi reads
   them once per process, at the import; the dir is removed right after it);
5. `mount` lays out /ogc: our items/item/queryables routes (features.py, edit.py), the tiles
   routes (tiles.py), then pygeoapi's own routes for everything else.

`GdalItemIdMiddleware` repairs GDAL 3.6's single-feature requests: it appends `/{id}` after the
items link it was given, query string included (`/items?f=json/123` → `/items/123?f=json`).
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from civicgrid.db import reads
from civicgrid.db.errors import translate
from civicgrid.errors import InvalidInput, NotFound, SetupError, UnsupportedMediaType
from civicgrid.inputs import loads, parse_model
from civicgrid.layers import features, feeds, tiles, vendor
from civicgrid.layers.collections import COLLECTIONS, PROVIDER, Collection, pygeoapi_resources
from civicgrid.settings import get_settings
from civicgrid.state import app_state

log = logging.getLogger("civicgrid.ogc")

PLAN_CACHE_SIZE = 2048


@dataclass
class OgcState:
    """What /ogc serves, loaded at start-up (the app state's `ogc`)."""

    resources: dict                        # the configured resources (collections, processes), as read
    config: dict                           # the resolved configuration pygeoapi runs with
    base: str                              # public URL of /ogc
    active: dict[str, Collection]          # our collections actually published (their table exists)
    others: set[str]                       # collections of other providers (pygeoapi answers for them)
    pygeoapi: Any                          # the imported pygeoapi.starlette_app
    estimates: dict = field(default_factory=dict)   # numberMatched planner estimates (features.py)
    plan: Callable = None                  # LRU of validated request shapes → ItemsPlan

    def __post_init__(self):
        self.plan = lru_cache(maxsize=PLAN_CACHE_SIZE)(self._plan)

    def _plan(self, cid: str, params: tuple) -> features.ItemsPlan:
        """Map clients repeat the same requests: validate and compose each distinct one once."""
        raw = dict(params)
        if len(raw) != len(params):
            name = next(k for k, _ in params if sum(1 for k2, _ in params if k2 == k) > 1)
            raise InvalidInput(f"query parameter '{name}' is given more than once", field=name)
        return features.plan_items(self.active[cid], raw)


# ---------------------------------------------------------------- config validation

class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    name: str
    data: Any
    id_field: str | None = None
    time_field: str | None = None
    editable: bool = False
    crs: list[str] | None = None
    storage_crs: str | None = None


class ResourceConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["collection", "process", "stac-collection"]
    title: str | dict[str, str] | None = None
    description: str | dict[str, str] | None = None
    providers: list[ProviderConfig] | None = None
    processor: dict | None = None


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str
    limits: dict | None = None


class PygeoapiConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    server: ServerConfig
    metadata: dict
    resources: dict[str, ResourceConfig] = Field(default_factory=dict)


def _key(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _first_difference(got: Any, want: Any, where: str, skip=frozenset()) -> tuple[str, Any, Any] | None:
    """(key path, value found, value expected) of the first place two configuration values differ."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in [*want, *(k for k in got if k not in want)]:
            if k in skip:
                continue
            found = _first_difference(got.get(k), want.get(k), f"{where}.{k}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for n, (a, b) in enumerate(zip(got, want, strict=True)):
            found = _first_difference(a, b, f"{where}.{n}")
            if found:
                return found
        return None
    return None if got == want else (where, got, want)


def load_config(path: Path | None = None) -> dict:
    """Read + env-expand + validate (CIVICGRID_PYGEOAPI_CONFIG by default). SetupError naming the bad key."""
    from pygeoapi.util import yaml_load

    path = path or get_settings().pygeoapi_config
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise SetupError(f"{path.name}: cannot read: {exc}") from exc
    try:
        PygeoapiConfig.model_validate(raw)
    except ValidationError as exc:   # a setup error, not a client's: stays here
        err = exc.errors()[0]
        raise SetupError(f"{path.name}: {_key(err['loc'])}: {err['msg']}") from exc
    resources = raw.setdefault("resources", {}) or {}
    raw["resources"] = resources
    generated = pygeoapi_resources()
    for rid, res in resources.items():
        ours = res.get("type") == "collection" and any(
            isinstance(p, dict) and p.get("name") == PROVIDER for p in res.get("providers") or [])
        if not ours:
            continue
        if rid not in generated:
            raise SetupError(f"{path.name}: resources.{rid}: no such collection in layers/collections.py "
                             f"(known: {', '.join(COLLECTIONS)})")
        differs = _first_difference(res, generated[rid], f"resources.{rid}", skip={"extents"})
        if differs:
            where, got, want = differs
            raise SetupError(f"{path.name}: {where}: {got!r} differs from layers/collections.py ({want!r}); "
                             "the collections block is generated: python -m civicgrid.layers.collections")
    for rid, res in generated.items():   # a configuration without the generated block still publishes them
        resources.setdefault(rid, res)
    return raw


def resolve_config(raw: dict, active: dict[str, Collection]) -> dict:
    """Drop collections whose table is missing (`active` gets the others); fill server.url and
    extents from the database."""
    settings = get_settings()
    cfg = json.loads(json.dumps(raw))
    cfg["server"]["url"] = settings.public_url + "/ogc"
    cfg["server"].setdefault("templates", {})
    # our copies of the templates that load scripts from CDNs (layers/templates, assets at /ogc/vendor)
    cfg["server"]["templates"].setdefault("path", str(vendor.TEMPLATES))
    ours = [rid for rid, res in cfg.get("resources", {}).items()
            if res.get("type") == "collection"
            and any(p.get("name") == PROVIDER for p in res.get("providers", []))]
    try:
        with psycopg.connect(settings.dsn, connect_timeout=5) as conn:
            extent = None
            if conn.execute("SELECT to_regclass('town')").fetchone()[0]:
                row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                                   "FROM (SELECT ST_Extent(geom) e FROM town) x").fetchone()
                if row and row[0] is not None:
                    extent = [round(v, 6) for v in row]
            for rid in ours:
                coll = COLLECTIONS[rid]
                if conn.execute("SELECT to_regclass(%s)", [coll.table]).fetchone()[0] is None:
                    log.warning("collection %s disabled: table or view %s is missing", rid, coll.table)
                    del cfg["resources"][rid]
                    continue
                active[rid] = coll
                if extent:
                    cfg["resources"][rid].setdefault("extents", {})["spatial"] = {
                        "bbox": extent, "crs": features.CRS84}
    except psycopg.OperationalError as exc:
        log.warning("database unreachable at start (%s); publishing every configured collection",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        for rid in ours:
            active[rid] = COLLECTIONS[rid]
    return cfg


def write_pygeoapi_files(cfg: dict) -> tuple[Path, Path]:
    from pygeoapi.models.openapi import OAPIFormat
    from pygeoapi.openapi import generate_openapi_document

    folder = Path(tempfile.mkdtemp(prefix="civicgrid-ogc-"))
    atexit.register(shutil.rmtree, folder, True)   # if the import below never ran (it removes them)
    cfg_path = folder / "pygeoapi-config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from civicgrid.layers.ogcschemas import self_contained

    openapi = generate_openapi_document(cfg_path, OAPIFormat(root="json"), fail_on_invalid_collection=False)
    doc = self_contained(json.loads(openapi) if isinstance(openapi, str) else openapi)
    doc = feeds.document(doc, [rid for rid in cfg.get("resources", {})
                               if rid in COLLECTIONS and feeds.has_feed(COLLECTIONS[rid])])
    api_path = folder / "openapi.json"
    api_path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return cfg_path, api_path


# ---------------------------------------------------------------- handlers

GEOJSON = "application/geo+json"


def _collection(request: Request, ogc: OgcState) -> Collection:
    cid = request.path_params["collection_id"]
    coll = ogc.active.get(cid)
    if coll is None:
        raise NotFound(f"collection '{cid}' not found; collections: {', '.join(ogc.active)}")
    return coll


@contextlib.asynccontextmanager
async def _rows_of_caller(conn, coll: Collection):
    """For a collection under row security: a transaction acting as the caller (security/rows.py)."""
    if not coll.row_security:
        yield
        return
    from civicgrid.security import rows
    from civicgrid.security.principal import current_principal

    async with conn.transaction():
        await rows.enter_async(conn, current_principal())
        yield


def _is_ours(request: Request, ogc: OgcState) -> bool:
    cid = request.path_params["collection_id"]
    return cid in ogc.active or cid not in ogc.others


JSON_FORMATS = {"json", "geojson", "application/geo+json", "application/json"}
OTHER_FORMATS = ("html", "jsonld", "csv")   # rendered by pygeoapi over our provider


def _wants_html(request: Request) -> bool:
    """HTML, JSON-LD and CSV renderings are pygeoapi's (over our provider); JSON is ours."""
    f = request.query_params.get("f")
    if f:
        return f not in JSON_FORMATS
    accept = request.headers.get("accept", "")
    return accept.startswith("text/html")


async def rendered_items(request: Request, ogc: OgcState) -> Response:
    """HTML, JSON-LD and CSV of our collections: the request is validated exactly as for JSON (same
    400s), and the provider builds its page from the same parameters (filter included)."""
    from civicgrid.layers.provider import REQUEST_PARAMS

    coll = _collection(request, ogc)
    fmt = request.query_params.get("f")
    if fmt is not None and fmt not in OTHER_FORMATS:
        raise InvalidInput(f"f '{fmt}' is not offered; use one of: json, {', '.join(OTHER_FORMATS)}", field="f")
    params = tuple((k, v) for k, v in request.query_params.multi_items() if k != "f")
    ogc.plan(coll.id, params)
    token = REQUEST_PARAMS.set(dict(params))
    try:
        return await ogc.pygeoapi.collection_items(request)
    finally:
        REQUEST_PARAMS.reset(token)


async def items(request: Request) -> Response:
    state = app_state(request)
    ogc = state.ogc
    if not _is_ours(request, ogc):
        return await ogc.pygeoapi.collection_items(request)
    if _wants_html(request):
        if request.method != "GET":
            raise UnsupportedMediaType("POST to items answers GeoJSON only", field="f")
        return await rendered_items(request, ogc)
    coll = _collection(request, ogc)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        if ctype in ("application/geo+json",):
            from civicgrid.layers import edit
            return await edit.create(request, coll, state.async_pool, ogc.base)
        if ctype not in ("application/query-cql-json", "application/json"):
            raise UnsupportedMediaType("POST to items takes application/geo+json (create) or "
                                       "application/query-cql-json (a CQL2 JSON filter)", field="Content-Type")
        body = loads(await request.body(), "filter")
        if isinstance(body, dict) and "op" not in body and "filter" in body:
            body = body["filter"]
        raw = dict(request.query_params)
        if isinstance(body, str):
            raw["filter"] = body
            plan = features.plan_items(coll, raw)
        else:
            raw.pop("filter", None)
            plan = features.plan_items(coll, raw, filter_json=body)
    else:
        plan = ogc.plan(coll.id, tuple(request.query_params.multi_items()))

    async def page(conn):   # on the standby when this read may use it (civicgrid.db.reads)
        async with _rows_of_caller(conn, coll):
            return await features.items_page(conn, plan, ogc.base, ogc.estimates)

    try:
        body, links = await reads.read(request, page)
    except psycopg.Error as exc:
        raise translate(exc, field="filter") from exc
    crs = features.CRS_URIS[plan.srid]
    headers = {"Content-Crs": f"<{crs}>", "Link": features.link_header(links)}
    return feeds.conditional(request, body, GEOJSON, headers)


async def item(request: Request) -> Response:
    state = app_state(request)
    ogc = state.ogc
    if not _is_ours(request, ogc) or _wants_html(request):
        return await ogc.pygeoapi.collection_items(request)
    coll = _collection(request, ogc)
    fid = request.path_params["feature_id"]
    if request.method in ("PUT", "PATCH", "DELETE"):
        from civicgrid.layers import edit
        return await edit.change(request, coll, fid, state.async_pool, ogc.base)

    async def one(conn):
        async with _rows_of_caller(conn, coll):
            return await features.item_body(conn, coll, fid, dict(request.query_params), ogc.base)

    try:
        body, version, srid = await reads.read(request, one)
    except psycopg.Error as exc:
        raise translate(exc, field="filter") from exc
    headers = {"Content-Crs": f"<{features.CRS_URIS[srid]}>"}
    if version is not None:
        headers["ETag"] = f'"{version}"'
    return Response(body, media_type=GEOJSON, headers=headers)


def _prefer(request: Request) -> tuple[list[str], str | None]:
    """`Prefer` (RFC 7240) tokens: the execution mode pygeoapi understands (`respond-async`, `wait`)
    and `return=minimal|representation` (the results document or the raw value)."""
    modes, returns = [], None
    for token in request.headers.get("prefer", "").split(","):
        token = token.strip().lower().replace(" ", "")
        if token in ("respond-async", "wait") or token.startswith("wait="):
            modes.append("wait" if token.startswith("wait") else token)
        elif token in ("return=minimal", "return=representation"):
            returns = "document" if token == "return=minimal" else "raw"
    return modes, returns


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    successUri: str = Field(min_length=1, max_length=2000)
    inProgressUri: str | None = Field(None, max_length=2000)
    failedUri: str | None = Field(None, max_length=2000)


class ExecuteRequest(BaseModel):
    """An execution request's members besides `inputs` (OGC API - Processes - Part 1, execute.yaml)."""

    model_config = ConfigDict(extra="allow")
    inputs: dict | None = None
    outputs: dict[str, dict] | None = Field(None, max_length=20)
    response: Literal["raw", "document"] | None = None
    subscriber: SubscriberIn | None = None


async def execution(request: Request) -> Response:
    """A process execution request is a JSON object (`{"inputs": {...}}`): checked here, within the
    JSON limits, before pygeoapi reads it (it would fail on `[null,null]`, `true` or `"x"`).

    Results per OGC API - Processes 1.0: `response` `raw` (the default: the output's value with its
    media type) or `document` (`{"<output id>": {"mediaType", "value"}}`); without `response`,
    `Prefer: return=minimal` asks for the document and `return=representation` for the raw value.
    pygeoapi reads only `Prefer: respond-async` (or `wait`) alone, so that is what it is given.

    While a synchronous run works, the request listens for its client: when the client goes away
    the run's query is cancelled (processes.jobs.SyncRun) and the worker thread is free again."""
    from civicgrid.processes.jobs import SYNC_RUN, SyncRun

    raw = await request.body()   # Starlette keeps it: pygeoapi reads the same bytes again
    modes, returns = _prefer(request)
    if raw.strip():
        doc = loads(raw)
        if not isinstance(doc, dict):
            raise InvalidInput('the execution request must be a JSON object: {"inputs": {...}}', field="body")
        if doc.get("inputs") is not None and not isinstance(doc["inputs"], dict):
            raise InvalidInput("inputs must be a JSON object (name: value)", field="inputs")
        if doc.get("response") is not None and doc["response"] not in ("raw", "document"):
            raise InvalidInput(f"response must be 'raw' or 'document', got {doc['response']!r}", field="response")
        parse_model(ExecuteRequest, doc)   # outputs, response, subscriber: pygeoapi would fail on wrong types
        if doc.get("response") is None and returns:
            doc["response"] = returns
            request._body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if request.headers.get("prefer") is not None:
        from starlette.datastructures import Headers

        headers = [(k, v) for k, v in request.scope["headers"] if k != b"prefer"]
        if modes:
            headers.append((b"prefer", ("respond-async" if "respond-async" in modes else "wait").encode()))
        request.scope["headers"] = headers
        request._headers = Headers(scope=request.scope)
    handle = SyncRun()
    token = SYNC_RUN.set(handle)
    try:
        # the task copies this context (with the handle), pygeoapi's executor copies the task's
        run = asyncio.ensure_future(app_state(request).ogc.pygeoapi.execute_process_jobs(request))
    finally:
        SYNC_RUN.reset(token)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({run, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone.done() and not run.done():
            log.info("client left during %s: cancelling its run", request.url.path)
            # a run busy in Python between two queries has nothing to cancel yet: repeat until it
            # ends, so its next query is cancelled as it starts
            while not run.done():
                await asyncio.to_thread(handle.cancel)
                await asyncio.wait({run}, timeout=0.5)
        return await run
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (the body is read already: the next message is that)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def queryables(request: Request) -> Response:
    """Queryables with types and the code-catalog enumerations (JSON Schema)."""
    ogc = app_state(request).ogc
    if not _is_ours(request, ogc) or _wants_html(request):
        return await ogc.pygeoapi.collection_queryables(request)
    coll = _collection(request, ogc)
    extra = set(request.query_params) - {"f", "lang", "profile"}
    if extra:
        name = sorted(extra)[0]
        raise InvalidInput(f"unknown query parameter '{name}'", field=name)
    from civicgrid.layers.provider import fields_of

    geometry_format = "geometry-any" if coll.geometry_type == "geometry" else f"geometry-{coll.geometry_type}"
    props: dict[str, Any] = {"geometry": {"format": geometry_format, "x-ogc-role": "primary-geometry"}}
    for name, spec in (await asyncio.to_thread(fields_of, coll)).items():
        entry = {"title": spec.get("title") or name, "type": spec["type"]}
        if spec.get("format"):
            entry["format"] = spec["format"]
        if spec.get("values"):
            entry["enum"] = spec["values"]
        if name == coll.time_column:
            entry["x-ogc-role"] = "primary-instant"
        if coll.edit is not None and name not in coll.edit.model.model_fields:
            entry["readOnly"] = True          # derived or bookkeeping: a write ignores or refuses it
        props[name] = entry
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ogc.base}/collections/{coll.id}/queryables",
        "type": "object",
        "title": f"{coll.title_zh} {coll.title_en}",
        "properties": props,
        "additionalProperties": False,
    }
    if coll.edit is not None:   # what a new item must carry (the editing form marks them)
        doc["required"] = [n for n, f in coll.edit.model.model_fields.items() if f.is_required() and n in props]
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/schema+json")


# ---------------------------------------------------------------- discovery links pygeoapi does not write

def _with_links(response: Response, add: Callable[[dict], None]) -> Response:
    """pygeoapi's JSON answer with our links added (HTML and JSON-LD are left as they are)."""
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json") \
            or response.headers.get("content-encoding"):
        return response
    doc = json.loads(response.body)
    add(doc)
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return Response(json.dumps(doc, ensure_ascii=False), status_code=200, headers=headers,
                    media_type=response.headers["content-type"])


async def landing_page(request: Request) -> Response:
    """pygeoapi's landing page plus the tilesets links (OGC API - Tiles: `tilesets-vector`)."""
    ogc = app_state(request).ogc
    return _with_links(await ogc.pygeoapi.landing_page(request),
                       lambda doc: doc.setdefault("links", []).extend(tiles.landing_links(ogc.base)))


def _gdal36_ogcapi(request: Request) -> bool:
    """Whether the request comes from GDAL 3.6's OGCAPI driver (Debian 12): no User-Agent and exactly
    its Accept header. That driver follows a collection's tilesets-vector link before its items, but
    cannot open vector tiles: its InitWithTilesAPI keeps only a raster branch after reading the tile
    matrix set (the vector tile layer's constructor has no caller in libgdal 3.6.2), so it opened
    nothing. Without the link it reads the collection's items, as `-oo API=ITEMS` does."""
    headers = request.headers
    return "user-agent" not in headers and headers.get("accept") == "application/geo+json, application/json"


async def collections(request: Request) -> Response:
    """pygeoapi's collection list or one collection, with each tiled collection's tilesets link
    (not for GDAL 3.6's OGCAPI driver, see `_gdal36_ogcapi`)."""
    ogc = app_state(request).ogc
    if _gdal36_ogcapi(request):
        return await ogc.pygeoapi.collections(request)

    def add(doc: dict) -> None:
        for c in doc.get("collections", [doc]):
            if c.get("id") in ogc.active:
                c.setdefault("links", []).extend(tiles.collection_links(ogc.base, c["id"]))

    return _with_links(await ogc.pygeoapi.collections(request), add)


# ---------------------------------------------------------------- GDAL 3.6 single-feature URLs

# only after the `f=` links pygeoapi advertises: `datetime=a/b` must stay an interval
_GDAL_TAIL = re.compile(rb"^(?P<query>(?:.*&)?f=(?:json|geojson|jsonld|html))/(?P<id>[^/&=?]+)$")


class GdalItemIdMiddleware:
    """`/ogc/collections/x/items?f=json/123` → `/ogc/collections/x/items/123?f=json`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/items") and scope["path"].startswith("/ogc/"):
            qs: bytes = scope.get("query_string", b"")
            m = _GDAL_TAIL.match(qs) if b"/" in qs else None
            if m:
                from urllib.parse import unquote

                fid = unquote(m.group("id").decode("latin-1"))
                scope = dict(scope)
                scope["path"] = scope["path"] + "/" + fid
                scope["raw_path"] = scope["path"].encode()
                scope["query_string"] = m.group("query")
        await self.app(scope, receive, send)


middleware = [GdalItemIdMiddleware]


# ---------------------------------------------------------------- mount

# what our Features routes add to pygeoapi's own list (it reads this list when answering /conformance)
EXTRA_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
]


def _load_pygeoapi(cfg: dict):
    from pygeoapi.api import itemtypes

    for uri in EXTRA_CONFORMANCE + tiles.CONFORMANCE:
        if uri not in itemtypes.CONFORMANCE_CLASSES_FEATURES:
            itemtypes.CONFORMANCE_CLASSES_FEATURES.append(uri)
    cfg_path, api_path = write_pygeoapi_files(cfg)
    os.environ["PYGEOAPI_CONFIG"] = str(cfg_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(api_path)
    try:
        return importlib.import_module("pygeoapi.starlette_app")
    finally:
        # read at import only: gone now, also when the process is killed later or is a server
        # worker (multiprocessing ends those with os._exit, without atexit)
        shutil.rmtree(cfg_path.parent, ignore_errors=True)


@contextlib.asynccontextmanager
async def lifespan(state):
    """Load, check and resolve the configuration and import pygeoapi: the app state's `ogc`."""
    raw = load_config(state.settings.pygeoapi_config)
    active: dict[str, Collection] = {}
    cfg = await asyncio.to_thread(resolve_config, raw, active)
    others = {rid for rid, r in cfg.get("resources", {}).items() if r.get("type") == "collection" and rid not in active}
    state.ogc = OgcState(resources=raw.get("resources", {}), config=cfg, base=cfg["server"]["url"].rstrip("/"),
                         active=active, others=others, pygeoapi=_load_pygeoapi(cfg))
    yield


def mount(routes: list, state) -> None:
    app = state.ogc.pygeoapi
    ours = [
        Route("/collections/{collection_id}/items", items, methods=["GET", "POST"]),
        Route("/collections/{collection_id}/items/{feature_id}", item, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/collections/{collection_id}/queryables", queryables, methods=["GET"]),
        *feeds.routes,
        Route("/processes/{process_id}/execution", execution, methods=["POST"]),
        Route("/", landing_page),
        Route("/collections", collections),
        Route("/collections/{collection_id}", collections),
        *tiles.routes,
        Mount("/vendor", app=vendor.VendorFiles()),
    ]
    static = Mount("/static", app=app.APP.routes[0].app) if app.APP.routes else None
    inner = ours + ([static] if static else []) + list(app.api_routes)
    # `/ogc` is the landing page itself, not a redirect: QGIS 3.22 does not resolve the relative
    # Location of a 307 (and the web UI's catch-all at / would answer 404)
    routes.append(Route("/ogc", landing_page))
    routes.append(Mount("/ogc", routes=inner))
