"""Feeds the district syncs (多网融合): what changed in a collection since a time, deletions included.

A sync client asks, per collection,
1. `GET /ogc/collections/{id}/changes?since=T` — the features deleted at or after T (tombstones written by
   triggers in the database, migration 1200), a GeoJSON FeatureCollection of `geometry: null`
   features whose `id` is the deleted feature's id and `properties.deleted_at` its time, paged by
   `after=` (the `next` link), plus `watermark`: the `since` of the next sync;
2. `GET /ogc/collections/{id}/items?updated_since=T` — the features inserted or changed at or after T
   (any other items parameter works beside it, paging included);
then applies the deletions, then the upserts, and keeps the watermark of step 1 for next time.
The watermark is the start of the oldest transaction still running (feed_watermark()): a change
commits after its `updated_at`, so the time of the last request would miss a write in flight.

Both answers carry an ETag (a hash of the page without its `timeStamp` and `watermark`); If-None-Match
with it → 304 (with the X-Feed-Watermark header).

Deletions are kept CIVICGRID_FEED_TOMBSTONE_DAYS (90): `prune()` (hourly in `serve`, `civicgrid feeds
prune`) removes older tombstones and moves the horizon (feed_horizon); a `since` before it is a 410
Gone — the client may have missed deletions and must re-sync in full.

Which collections have a feed: those with an `updated_at` property and no row security (the shapes
of private plans are nobody's feed). Their deletions are the tombstones of their table (of the base
table for the views in TOMBSTONE_SOURCE). Who may read a feed is the collection's read rule
(security/access.yml) and, for API keys, the key's collections.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timezone
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.db import load_sql
from civicgrid.db.errors import translate
from civicgrid.errors import Gone, InvalidInput
from civicgrid.layers.collections import Collection
from civicgrid.state import app_state

UPDATED = "updated_at"
# views whose deletions are those of the table under them. The components by geometry kind get every
# deleted component's id (deleting an id one never had is a no-op for a client) and, under the view's
# own name, the components that left the view by changing geometry kind (migration 1300's trigger).
TOMBSTONE_SOURCE = {"ogc_cases": ("cases",),
                    **{v: ("component", v) for v in ("ogc_component_points", "ogc_component_lines",
                                                     "ogc_component_polygons")}}
CHANGES_DEFAULT_LIMIT = 1000
CHANGES_MAX_LIMIT = 10_000


def has_feed(c: Collection) -> bool:
    return c.column(UPDATED) is not None and not c.row_security


def tombstone_sources(c: Collection) -> list[str]:
    return list(TOMBSTONE_SOURCE.get(c.table, (c.table,)))


def _since(text: str, name: str):
    from civicgrid.layers.features import _instant

    value = _instant(text, name)
    if value is None:
        raise InvalidInput(f"{name} needs an RFC 3339 date-time (e.g. 2026-12-04T08:00:00Z)", field=name)
    return value


def updated_since_clause(c: Collection, text: str | None) -> list[sql.Composable]:
    """`updated_since=T` on items: the features changed at or after T."""
    if text is None:
        return []
    if not has_feed(c):
        raise InvalidInput(f"updated_since: collection {c.id} has no change feed (no {UPDATED})",
                           field="updated_since")
    return [sql.SQL("t.{} >= {}").format(sql.Identifier(UPDATED), sql.Literal(_since(text, "updated_since")))]


# ---------------------------------------------------------------- ETag / If-None-Match

# what changes with every request, not with the data: the time of the answer and the watermark (sent
# in the X-Feed-Watermark header of a 304 too, so a client that had the page still moves on)
_VOLATILE = re.compile(rb',\s*"(?:timeStamp|watermark)":\s*"[^"]*"')


def etag_of(body: bytes) -> str:
    """A weak validator of a page: the same features, counts and links give the same tag."""
    return 'W/"' + hashlib.blake2b(_VOLATILE.sub(b"", body), digest_size=16).hexdigest() + '"'


def conditional(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """The page with its ETag, or 304 when the client already has it (If-None-Match)."""
    tag = etag_of(body)
    headers = {**headers, "ETag": tag}
    sent = request.headers.get("if-none-match")
    if sent and (sent.strip() == "*" or tag in [t.strip() for t in sent.split(",")]
                 or tag[2:] in [t.strip() for t in sent.split(",")]):
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k in ("ETag", "Link", "X-Feed-Watermark")})
    return Response(body, media_type=media_type, headers=headers)


# ---------------------------------------------------------------- /changes

class ChangesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    f: str | None = Field(None, pattern=r"^(json|geojson|application/geo\+json|application/json)$")
    since: str | None = None
    limit: int = Field(CHANGES_DEFAULT_LIMIT, ge=1, le=CHANGES_MAX_LIMIT)
    after: int = Field(0, ge=0, le=2**62)


def _iso(value) -> str:
    """UTC with a Z, like timeStamp, whatever the session's time zone (the town's is +08:00)."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


async def changes(request: Request) -> Response:
    from civicgrid.layers import features
    from civicgrid.layers.ogc import _collection

    state = app_state(request)
    ogc = state.ogc
    coll = _collection(request, ogc)
    raw = dict(request.query_params)
    if len(raw) != len(request.query_params.multi_items()):
        name = next(k for k in raw if len(request.query_params.getlist(k)) > 1)
        raise InvalidInput(f"query parameter '{name}' is given more than once", field=name)
    q: ChangesQuery = features.validate_params(ChangesQuery, raw)  # type: ignore[assignment]
    if not has_feed(coll):
        raise InvalidInput(f"collection {coll.id} has no change feed; feeds: "
                           + ", ".join(c for c, x in ogc.active.items() if has_feed(x)), field="collection_id")
    since = _since(q.since, "since") if q.since is not None else None
    try:
        async with state.async_pool.connection() as conn:
            if since is not None:
                cur = await conn.execute("SELECT pruned_before FROM feed_horizon WHERE pruned_before > %s", [since])
                if (gone := await cur.fetchone()) is not None:
                    raise Gone(f"since: deletions before {_iso(gone[0])} are no longer kept (pruned after "
                               "CIVICGRID_FEED_TOMBSTONE_DAYS); deletions after this since may be missing — do a "
                               "full re-sync (items without updated_since, changes without since) and keep the "
                               "new watermark", field="since", horizon=_iso(gone[0]))
            cur = await conn.execute(load_sql("civicgrid.layers", "feed_changes.sql"),
                                     {"sources": tombstone_sources(coll), "since": since, "after": q.after,
                                      "limit": q.limit})
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute("SELECT feed_watermark()")
                watermark = (await cur.fetchone())[0]
            else:
                watermark = rows[0][3]
    except psycopg.Error as exc:
        raise translate(exc, field="since") from exc
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    base = f"{ogc.base}/collections/{coll.id}"
    params = {k: v for k, v in raw.items() if k != "after"}

    def url(extra: dict) -> str:
        merged = {**params, **extra}
        return f"{base}/changes" + ("?" + urlencode(merged) if merged else "")

    links = [features.link(url({"after": str(q.after)} if q.after else {}), "self", title="本页 this page"),
             features.link(base, "collection", "application/json", "集合 collection"),
             features.link(f"{base}/items?" + urlencode({"updated_since": q.since} if q.since else {}), "related",
                           title="此后新增或变更的要素 features inserted or changed since")]
    if more:
        links.append(features.link(url({"after": str(rows[-1][0])}), "next", title="下一页 next page"))
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": int(fid) if coll.id_type == "integer" else fid, "geometry": None,
                      "properties": {"deleted_at": _iso(at), "seq": seq}} for seq, fid, at, _ in rows],
        "numberReturned": len(rows),
        "watermark": _iso(watermark),
        "timeStamp": features.now_iso(),
        "links": links,
    }
    body = json.dumps(doc, ensure_ascii=False).encode()
    return conditional(request, body, "application/geo+json",
                       {"Link": features.link_header(links), "X-Feed-Watermark": doc["watermark"]})


# ---------------------------------------------------------------- /ogc/openapi

UPDATED_SINCE_PARAM = {
    "name": "updated_since", "in": "query", "required": False, "style": "form", "explode": False,
    "description": "the change feed: only features inserted or changed at or after this time (RFC 3339); "
                   "the deletions are at /collections/{collectionId}/changes",
    "schema": {"type": "string", "format": "date-time"}}

CHANGES_SCHEMA = {
    "type": "object", "required": ["type", "features", "numberReturned", "watermark", "timeStamp", "links"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "the deleted feature's id"},
                "geometry": {"type": "object", "nullable": True, "description": "always null"},
                "properties": {"type": "object", "required": ["deleted_at", "seq"], "properties": {
                    "deleted_at": {"type": "string", "format": "date-time"},
                    "seq": {"type": "integer", "description": "the tombstone's number (the `after` of the next page)"}}}}}},
        "numberReturned": {"type": "integer", "minimum": 0},
        "watermark": {"type": "string", "format": "date-time",
                      "description": "the `since` of the next sync (the start of the oldest running transaction)"},
        "timeStamp": {"type": "string", "format": "date-time"},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}}}}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/exception"}}}}


def _changes_operation(cid: str) -> dict:
    return {"get": {
        "summary": f"Deletions in {cid} since a time (change feed)",
        "description": "Tombstones of the features deleted at or after `since`, oldest first, paged by `after` "
                       "(the `next` link); then fetch `items?updated_since=` for the upserts and keep `watermark`.",
        "operationId": f"getChanges-{cid}", "tags": [cid],
        "parameters": [
            {"name": "since", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
             "description": "deletions at or after this time; none: every tombstone kept"},
            {"name": "limit", "in": "query", "required": False, "schema": {
                "type": "integer", "minimum": 1, "maximum": CHANGES_MAX_LIMIT, "default": CHANGES_DEFAULT_LIMIT}},
            {"name": "after", "in": "query", "required": False, "schema": {
                "type": "integer", "minimum": 0, "maximum": 2**62, "default": 0},
             "description": "the page cursor: the `seq` of the last tombstone of the previous page"},
            {"name": "f", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "geojson"]}}],
        "responses": {
            "200": {"description": "one page of deletions", "headers": {
                "ETag": {"schema": {"type": "string"}}, "X-Feed-Watermark": {"schema": {"type": "string"}}},
                "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/featureChanges"}}}},
            "304": {"description": "not modified (If-None-Match)"},
            "400": _error("a bad since/limit/after or an unknown parameter (`field` names it)"),
            "403": _error("the caller or its key may not read this collection"),
            "404": _error("no such collection"),
            "410": _error("`since` is before the pruning horizon (`horizon`): deletions may be missing, re-sync "
                          "in full"),
        }}}


def document(doc: dict, feed_ids: list[str]) -> dict:
    """/ogc/openapi with the feeds: `updated_since` on each feed's items, its `/changes` operation."""
    paths = doc.setdefault("paths", {})
    for cid in feed_ids:
        items = paths.get(f"/collections/{cid}/items", {}).get("get")
        if items is None:
            continue
        params = items.setdefault("parameters", [])
        if not any(p.get("name") == "updated_since" for p in params):
            params.append(dict(UPDATED_SINCE_PARAM))
        paths[f"/collections/{cid}/changes"] = _changes_operation(cid)
    doc.setdefault("components", {}).setdefault("schemas", {})["featureChanges"] = CHANGES_SCHEMA
    return doc


# ---------------------------------------------------------------- retention

PRUNE_EVERY_S = 3600


def prune(url: str | None = None, days: float | None = None) -> dict:
    """Delete the tombstones older than `days` (default: the setting); {"removed": {source: n}, "horizon"}."""
    from civicgrid.db import connect
    from civicgrid.settings import get_settings

    days = get_settings().feed_tombstone_days if days is None else days
    with connect(url) as conn:
        removed = {r["source"]: r["removed"] for r in conn.execute("SELECT * FROM feed_prune(make_interval(secs => %s))",
                                                                   [days * 86400]).fetchall()}
        horizon = conn.execute("SELECT pruned_before FROM feed_horizon").fetchone()["pruned_before"]
    return {"removed": removed, "horizon": _iso(horizon), "days": days}


def _prune_loop(settings, stop) -> None:
    import logging

    log = logging.getLogger("civicgrid.feeds")
    while not stop.wait(PRUNE_EVERY_S):
        try:
            result = prune(settings.dsn, settings.feed_tombstone_days)
            if result["removed"]:
                log.info("feed tombstones pruned: %s", result)
        except Exception:  # a database restart: try again next hour
            log.exception("feed tombstone pruning failed")


def start_pruning(settings):
    """The hourly pruning in a daemon thread (ops' lifespan); set the returned event to stop it."""
    import threading

    stop = threading.Event()
    threading.Thread(target=_prune_loop, args=(settings, stop), name="feed-prune", daemon=True).start()
    return stop


routes = [Route("/collections/{collection_id}/changes", changes, methods=["GET"])]
