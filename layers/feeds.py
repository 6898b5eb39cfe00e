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
from civicgrid.errors import InvalidInput
from civicgrid.layers.collections import Collection
from civicgrid.state import app_state

UPDATED = "updated_at"
# views whose deletions are those of the table under them. The components by geometry kind get every
# deleted component's id (deleting an id one never had is a no-op for a client); a component whose
# geometry changes kind leaves one of those views without a tombstone there — sync urban-components
# itself to see that.
TOMBSTONE_SOURCE = {"ogc_cases": "cases", "ogc_component_points": "component", "ogc_component_lines": "component",
                    "ogc_component_polygons": "component"}
CHANGES_DEFAULT_LIMIT = 1000
CHANGES_MAX_LIMIT = 10_000


def has_feed(c: Collection) -> bool:
    return c.column(UPDATED) is not None and not c.row_security


def tombstone_source(c: Collection) -> str:
    return TOMBSTONE_SOURCE.get(c.table, c.table)


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
            cur = await conn.execute(load_sql("civicgrid.layers", "feed_changes.sql"),
                                     {"source": tombstone_source(coll), "since": since, "after": q.after,
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


routes = [Route("/collections/{collection_id}/changes", changes, methods=["GET"])]
