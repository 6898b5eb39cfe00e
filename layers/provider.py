"""The pygeoapi feature provider for our collections (registered by dotted path in pygeoapi-config.yml).

pygeoapi uses it for collection metadata, schema, queryables and its HTML pages; the JSON hot paths
(items, item, CQL2, editing) are answered by our own routes (`ogc.py` → `features.py`, `edit.py`)
before pygeoapi sees them. `query`/`get` here reuse the same SQL builder (sync psycopg), so the
HTML pages show exactly what the JSON routes return.
"""
from __future__ import annotations

import json
import time
from contextvars import ContextVar
from typing import Any

import psycopg
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError, ProviderQueryError

from civicgrid.errors import CivicgridError, NotFound
from civicgrid.layers import features
from civicgrid.layers.collections import COLLECTIONS, Collection
from civicgrid.settings import get_settings

# the validated query parameters of the items request being rendered (layers/ogc.py), so that HTML,
# JSON-LD and CSV pages apply the same filter, bbox, datetime and properties as JSON
REQUEST_PARAMS: ContextVar[dict | None] = ContextVar("civicgrid_items_params", default=None)

_FIELDS_TTL = 60.0
_fields_cache: dict[str, tuple[float, dict]] = {}


def fields_of(coll: Collection) -> dict[str, dict]:
    """{property: {type, format?, values?, title?}}; enumerations read from the code catalogs."""
    hit = _fields_cache.get(coll.id)
    if hit and time.monotonic() - hit[0] < _FIELDS_TTL:
        return hit[1]
    out: dict[str, dict] = {}
    with psycopg.connect(get_settings().dsn, connect_timeout=5) as conn:
        for col in coll.columns:
            spec: dict[str, Any] = {"type": col.type}
            if col.format:
                spec["format"] = col.format
            if col.title:
                spec["title"] = col.title
            if col.enum_sql:
                spec["values"] = [r[0] for r in conn.execute(col.enum_sql).fetchall()]
            out[col.name] = spec
    _fields_cache[coll.id] = (time.monotonic(), out)
    return out


def _collection_for(data: str) -> Collection:
    for coll in COLLECTIONS.values():
        if coll.table == data:
            return coll
    raise ProviderQueryError(f"no civicgrid collection is backed by '{data}'")


class CivicgridProvider(BaseProvider):
    """Feature provider over a table/view listed in layers/collections.py."""

    def __init__(self, provider_def):
        super().__init__(provider_def)
        self.collection = _collection_for(provider_def["data"])
        self.id_field = provider_def.get("id_field") or self.collection.key[0]
        self.time_field = self.collection.time_column
        self.get_fields()

    def get_fields(self) -> dict:
        if not self._fields:
            self._fields = fields_of(self.collection)
        return self._fields

    def _run(self, query, params=None):
        with psycopg.connect(get_settings().dsn, connect_timeout=5) as conn:
            if self.collection.row_security:   # pygeoapi's threads carry the request's principal
                from civicgrid.security import rows
                from civicgrid.security.principal import current_principal

                with conn.transaction():
                    rows.enter(conn, current_principal())
                    return conn.execute(query, params).fetchall()
            return conn.execute(query, params).fetchall()

    def query(self, offset=0, limit=10, resulttype="results", bbox=(), datetime_=None, properties=(),
              sortby=(), select_properties=(), skip_geometry=False, q=None, filterq=None, crs_transform_spec=None,
              **kwargs):
        raw: dict[str, str] = {"limit": str(max(1, min(limit, features.MAX_LIMIT))), "offset": str(offset)}
        given = REQUEST_PARAMS.get()
        if given is not None:   # one of our items pages: its own, already validated parameters
            raw = {**{k: v for k, v in given.items() if k not in ("after", "before")}, **raw}
        else:
            if bbox:
                raw["bbox"] = ",".join(str(v) for v in bbox)
            if datetime_:
                raw["datetime"] = datetime_
            if select_properties:
                raw["properties"] = ",".join(select_properties)
            if sortby:
                raw["sortby"] = ",".join(("-" if s.get("order") == "-" else "") + s["property"] for s in sortby)
            if skip_geometry:
                raw["skipGeometry"] = "true"
            for name, value in properties or []:
                raw[name] = str(value)
        try:
            plan = features.plan_items(self.collection, raw)
            rows = self._run(plan.query)
        except CivicgridError as exc:
            raise ProviderQueryError(exc.message) from exc
        feats = [json.loads(r[1]) for r in rows[:plan.limit]]
        return {"type": "FeatureCollection", "features": feats, "numberReturned": len(feats)}

    def get(self, identifier, **kwargs):
        try:
            query, _ = features.plan_item(self.collection, str(identifier), {})
            rows = self._run(query)
        except NotFound as exc:
            raise ProviderItemNotFoundError(exc.message) from exc
        if not rows:
            raise ProviderItemNotFoundError(f"feature {identifier} not found")
        return json.loads(rows[0][0])
