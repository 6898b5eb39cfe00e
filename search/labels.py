"""GET /api/labels: every code a user sees, with its Chinese name, from the data that defines it —
workflow states (the active workflow definitions), channels, urgency, time-limit colours, roles,
departments, communities, the code catalog — and per collection of layers/collections.py its
title, field titles and value maps (a column's `labels` names the code list).

The document is built by one SQL statement (sql/labels.sql), kept in the app state for TTL seconds
(workflows can be activated at run time) and served with an ETag, so a page revalidates for free.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from civicgrid.db import load_sql

TTL = 60.0
BOOLEANS = {"true": "是", "false": "否"}


@dataclass(frozen=True)
class Labels:
    body: bytes
    etag: str
    built: float


def collections_part(doc: dict) -> dict:
    from civicgrid.layers.collections import COLLECTIONS

    out = {}
    for c in COLLECTIONS.values():
        fields = {col.name: col.title for col in c.columns if col.title}
        lists = {col.name: col.labels for col in c.columns if col.labels}
        if c.tiles:
            fields.update({k: v for k, v in c.tiles.fields.items() if k not in fields})
            lists.update({k: v for k, v in c.tiles.labels.items() if k not in lists})
        values = {name: doc[kind] for name, kind in lists.items()}
        values.update({col.name: BOOLEANS for col in c.columns if col.type == "boolean"})
        out[c.id] = {"title": c.title_zh, "fields": fields, "values": values}
    return out


def build(conn) -> Labels:
    doc = conn.execute(load_sql("civicgrid.search", "labels.sql")).fetchone()["doc"]
    doc["booleans"] = BOOLEANS
    doc["collections"] = collections_part(doc)
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return Labels(body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"', time.monotonic())


def fresh(state) -> Labels | None:
    """The labels the app state holds, None when there are none or they are older than TTL."""
    hit: Labels | None = state.labels
    return None if hit is None or time.monotonic() - hit.built > TTL else hit


def current(state) -> Labels:
    hit = fresh(state)
    if hit is None:
        with state.pool.connection() as conn:
            hit = build(conn)
        state.labels = hit
    return hit
