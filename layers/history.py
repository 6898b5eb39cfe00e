"""The history of an editable feature and the revert of one change, mounted under /api.

GET  /features/{collection_id}/{feature_id}/history[?limit=N]  → {collection, id, exists, version,
     changes: [{history_id, operation, version, changed_at, changed_by, changed_by_name, batch,
                changed, before, after, before_geometry, after_geometry}]}, newest first; ETag = the
     feature's version (of its last change when it is deleted).
POST /features/{collection_id}/{feature_id}/revert  {"history_id": N} with If-Match → the feature
     as after a PUT (200 + ETag), or 204 when the reverted change was its creation.

The history is what the triggers write (component_history, migration 0001; feature_history, 0400):
every insert, update and delete, by the web editor, the survey publisher or anyone else, with the
whole row before and after. A revert is itself a new edit, in one transaction under the same rules
as the Part 4 writes of edit.py (the actor is the caller, audited by the access layer, If-Match):
reverting an update puts back what that change changed (the fields and the geometry it altered,
as they were before it; later changes to other fields stay), reverting a deletion restores the
feature, reverting a creation deletes it. The database's triggers check the
result like any other write (inside the town, grids that overlap, the class catalog …), so a revert
the data no longer allows is a 400/409 with the reason. A responsibility grid's geometry is derived
from its unit grids and not restored.
"""
from __future__ import annotations

import json

import psycopg
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civicgrid.db import load_sql
from civicgrid.errors import Conflict, MethodNotAllowed, NotFound, PreconditionFailed
from civicgrid.inputs import parse_model, read_model
from civicgrid.layers import edit, features
from civicgrid.layers.collections import Collection
from civicgrid.state import app_state

TABLES_WITH_HISTORY = {"component", "unit_grid", "responsibility_grid", "poi"}
DERIVED_GEOMETRY = {"responsibility_grid"}


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500)


class RevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history_id: int = Field(ge=1, le=2**62)


def _collection(request: Request) -> Collection:
    cid = request.path_params["collection_id"]
    coll = app_state(request).ogc.active.get(cid)
    if coll is None:
        raise NotFound(f"collection '{cid}' not found", field="collection_id")
    if coll.edit is None or coll.table not in TABLES_WITH_HISTORY:
        raise MethodNotAllowed(f"collection {cid} keeps no editing history", allow="")
    return coll


def _change_json(row: dict) -> dict:
    out = {k: row[k] for k in ("history_id", "operation", "version", "changed_by", "changed_by_name", "batch",
                               "changed", "before", "after", "before_geometry", "after_geometry")}
    out["changed_at"] = row["changed_at"].isoformat()
    return out


async def _current(conn, coll: Collection, fid: str, lock: bool) -> int | None:
    match = features.key_match_sql(coll, features.parse_id(coll, fid))
    query = psycopg.sql.SQL("SELECT t.version FROM {} t WHERE {}{}").format(
        psycopg.sql.Identifier(coll.table), match, psycopg.sql.SQL(" FOR UPDATE" if lock else ""))
    row = await (await conn.execute(query)).fetchone()
    return row[0] if row else None


async def _changes(conn, coll: Collection, fid: str, limit: int, history_id: int | None = None) -> list[dict]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    await cur.execute(load_sql("civicgrid.layers", "feature_history.sql"),
                      {"table": coll.table, "id": fid, "limit": limit, "history_id": history_id})
    return await cur.fetchall()


async def history(request: Request) -> Response:
    coll = _collection(request)
    fid = request.path_params["feature_id"]
    query = parse_model(HistoryQuery, dict(request.query_params), default="query")
    features.parse_id(coll, fid)
    async with app_state(request).async_pool.connection() as conn:
        version = await _current(conn, coll, fid, lock=False)
        changes = await _changes(conn, coll, fid, query.limit)
    if version is None and not changes:
        raise NotFound(f"feature '{fid}' not found in {coll.id}", field="feature_id")
    exists = version is not None
    if not exists:
        version = changes[0]["version"]
    body = {"collection": coll.id, "id": fid, "exists": exists, "version": version,
            "changes": [_change_json(c) for c in changes]}
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type="application/json",
                    headers={"ETag": f'"{version}"', "Cache-Control": "no-store"})


def _restore_sql(coll: Collection, columns: list[str], fid: str, insert: bool) -> psycopg.sql.Composable:
    """UPDATE (or INSERT) the feature from the history row %(row)s (a whole row as jsonb)."""
    S, Id = psycopg.sql.SQL, psycopg.sql.Identifier
    keep_geom = coll.table not in DERIVED_GEOMETRY and "geom" in columns
    cols = [c for c in columns if c != "geom" and (insert or c not in coll.key)]
    values = [S("r.{}").format(Id(c)) for c in cols]
    if keep_geom:
        cols.append("geom")
        values.append(S("ST_SetSRID(ST_GeomFromGeoJSON(%(row)s::jsonb -> 'geom'), 4490)"))
    record = S("jsonb_populate_record(NULL::{}, %(row)s::jsonb - 'geom') r").format(Id(coll.table))
    extra_names, extra_values = [Id("version"), Id("updated_at")], [S("%(version)s"), S("now()")]
    if coll.table == "component":
        extra_names.append(Id("updated_by"))
        extra_values.append(S("cg_actor()"))
    names = [Id(c) for c in cols] + extra_names
    if insert:
        return S("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            Id(coll.table), S(", ").join(names), S(", ").join(values + extra_values), record)
    match = features.key_match_sql(coll, features.parse_id(coll, fid))
    return S("UPDATE {} t SET ({}) = (SELECT {} FROM {}) WHERE {}").format(
        Id(coll.table), S(", ").join(names), S(", ").join(values + extra_values), record, match)


async def revert(request: Request) -> Response:
    coll = _collection(request)
    fid = request.path_params["feature_id"]
    expected = edit.if_match(request)
    body = await read_model(request, RevertIn)
    features.parse_id(coll, fid)
    state = app_state(request)
    async with state.async_pool.connection() as conn:
        try:
            async with conn.transaction():
                await edit.enter(conn, coll)
                current = await _current(conn, coll, fid, lock=True)
                found = await _changes(conn, coll, fid, 1, body.history_id)
                if not found:
                    if current is None and not await _changes(conn, coll, fid, 1):
                        raise NotFound(f"feature '{fid}' not found in {coll.id}", field="feature_id")
                    raise NotFound(f"history_id {body.history_id} is not a change of {coll.id} '{fid}'",
                                   field="history_id")
                change = found[0]
                version = current
                if version is None:        # deleted: its ETag is the version of its last change
                    version = (await _changes(conn, coll, fid, 1))[0]["version"]
                if expected is not None and expected != version:
                    raise PreconditionFailed(f"the item changed: its ETag is \"{version}\", not \"{expected}\"; "
                                             "load its history again and retry", field="If-Match")
                op = change["operation"]
                if op == "insert":
                    if current is None:
                        raise Conflict(f"{coll.id} '{fid}' is already deleted", field="history_id")
                    await conn.execute(psycopg.sql.SQL("DELETE FROM {} t WHERE {}").format(
                        psycopg.sql.Identifier(coll.table), features.key_match_sql(coll, features.parse_id(coll, fid))))
                    return Response(status_code=204)
                if op == "update" and current is None:
                    raise Conflict(f"{coll.id} '{fid}' was deleted after this change: revert its deletion first",
                                   field="history_id")
                if op == "delete" and current is not None:
                    raise Conflict(f"{coll.id} '{fid}' exists: only a deletion of a feature that is gone can be "
                                   "reverted", field="history_id")
                cur = await conn.execute(load_sql("civicgrid.layers", "feature_columns.sql"), {"table": coll.table})
                columns = [r[0] for r in await cur.fetchall()]
                if op == "update":        # only what this change changed; later changes to other fields stay
                    columns = [c for c in columns if c in change["changed"]]
                    if coll.table in DERIVED_GEOMETRY:
                        columns = [c for c in columns if c != "geom"]
                    if not columns:
                        raise Conflict(f"change {body.history_id} altered no field that a revert could restore",
                                       field="history_id")
                await conn.execute(_restore_sql(coll, columns, fid, insert=current is None),
                                   {"row": psycopg.types.json.Jsonb(change["old_row"]), "version": version + 1})
        except psycopg.Error as exc:
            raise edit._db_error(exc, coll) from exc
        return await edit.respond_feature(conn, coll, fid, 200, state.ogc.base)


routes = [
    Route("/features/{collection_id}/{feature_id}/history", history, methods=["GET"]),
    Route("/features/{collection_id}/{feature_id}/revert", revert, methods=["POST"]),
]
