"""What the GIS staff's web workspace needs beyond import / publish / rollback (service.py):

- corrections of staged rows before publishing (更正: attributes, class, the point moved), recorded
  in survey_correction and followed by the batch's checks run again — no new upload;
- the batch's rows as GeoJSON for the map (state error / insert / moved / changed / unchanged);
- coverage per unit grid (choropleth) and what a published batch changed, as GeoJSON.

SQL in sql/workspace.sql; framework-free like service.py (the API in api.py calls these).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.db import connect
from civicgrid.errors import Conflict, InvalidInput, NotFound
from civicgrid.survey.service import _batch_row, batch_summary, run_checks, sql_steps, standard_of

CLASS_ATTRIBUTE = "LXDM"      # the class column of a survey file (not one of the 18 attributes)
MAX_VALUE = 500


def _query(name: str) -> str:
    return dict(sql_steps("workspace"))[name]


def _attribute_names(conn: psycopg.Connection) -> set[str]:
    names = {r["abbreviation"] for r in conn.execute(
        "SELECT abbreviation FROM standard_attribute WHERE kind = 'component'")}
    return names | {CLASS_ATTRIBUTE}


def _clean_value(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(f"{key}: give text (or null to clear it)", field=f"attrs.{key}")
    text = str(value).strip()
    if len(text) > MAX_VALUE:
        raise InvalidInput(f"{key}: at most {MAX_VALUE} characters", field=f"attrs.{key}")
    return text or None


def _geometry(conn: psycopg.Connection, geometry: Any) -> str:
    """A GeoJSON geometry (lon/lat) checked in PostGIS; → its GeoJSON text as PostGIS writes it."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise InvalidInput("geometry must be a GeoJSON geometry object", field="geometry")
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason, ST_IsEmpty(g) AS empty, "
                "ST_CoveredBy(g, ST_MakeEnvelope(-180, -90, 180, 90, 4490)) AS on_earth, ST_AsGeoJSON(g, 9, 0) AS text "
                "FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%s::text), 4490) AS g) x",
                [json.dumps(geometry)]).fetchone()
    except psycopg.Error as exc:
        raise InvalidInput(f"geometry is not valid GeoJSON: {str(exc).splitlines()[0]}", field="geometry") from exc
    if row["empty"]:
        raise InvalidInput("geometry is empty", field="geometry")
    if not row["valid"]:
        raise InvalidInput(f"geometry is not valid: {row['reason']}", field="geometry")
    if not row["on_earth"]:
        raise InvalidInput("geometry is outside -180..180 / -90..90 (lon, lat)", field="geometry")
    return row["text"]


def correct_row(name: str, row_no: int, *, attrs: dict | None = None, geometry: Any = None,
                note: str | None = None, actor: str | None = None, url: str | None = None) -> dict:
    """Correct one staged row (attributes, class, geometry), record what changed, check the batch again."""
    attrs = attrs or {}
    if not isinstance(attrs, dict):
        raise InvalidInput("attrs must be an object of attribute abbreviation → text", field="attrs")
    with connect(url) as conn:
        with conn.transaction():
            if actor:
                conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [actor])
            b = _batch_row(conn, name, lock=True)
            if b["status"] != "staged":
                raise Conflict(f"batch {name!r} is {b['status']}: only a staged batch can be corrected", field="batch")
            row = conn.execute("SELECT attrs, ST_AsGeoJSON(geom, 9, 0) AS geom FROM survey_row "
                               "WHERE batch = %s AND row_no = %s FOR UPDATE", [name, row_no]).fetchone()
            if row is None:
                raise NotFound(f"batch {name!r} has no row {row_no}", field="row_no")
            known = _attribute_names(conn)
            changes: dict[str, dict] = {}
            new_attrs = dict(row["attrs"])
            for key, value in attrs.items():
                if key not in known:
                    raise InvalidInput(f"{key} is not a component attribute (use abbreviations such as GLBJMC, "
                                       f"or {CLASS_ATTRIBUTE} for the class)", field=f"attrs.{key}")
                value = _clean_value(key, value)
                before = row["attrs"].get(key)
                if value == before:
                    continue
                changes[key] = {"before": before, "after": value}
                if value is None:
                    new_attrs.pop(key, None)
                else:
                    new_attrs[key] = value
            geom_text = None
            if geometry is not None:
                geom_text = _geometry(conn, geometry)
                if row["geom"] is None or json.loads(row["geom"]) != json.loads(geom_text):
                    changes["geometry"] = {"before": json.loads(row["geom"]) if row["geom"] else None,
                                           "after": json.loads(geom_text)}
                else:
                    geom_text = None
            if not changes:
                raise InvalidInput("nothing to correct: the values are those of the row already", field="attrs")
            conn.execute(
                "UPDATE survey_row SET attrs = %s, "
                "geom = CASE WHEN %s::text IS NULL THEN geom ELSE ST_SetSRID(ST_GeomFromGeoJSON(%s::text), 4490) END, "
                "geom_error = CASE WHEN %s::text IS NULL THEN geom_error END "
                "WHERE batch = %s AND row_no = %s",
                [Jsonb(new_attrs), geom_text, geom_text, geom_text, name, row_no])
            conn.execute("INSERT INTO survey_correction (batch, row_no, changes, note) VALUES (%s, %s, %s, %s)",
                         [name, row_no, Jsonb(changes), (note or "").strip()[:500] or None])
            run_checks(conn, name)
        return {"row": row_detail(conn, name, row_no), "batch": batch_summary(conn, name), "changes": changes}


def recheck(name: str, *, url: str | None = None) -> dict:
    """Run the checks of a staged batch again (the live layer or the catalogs changed meanwhile)."""
    with connect(url) as conn:
        with conn.transaction():
            b = _batch_row(conn, name, lock=True)
            if b["status"] != "staged":
                raise Conflict(f"batch {name!r} is {b['status']}: only a staged batch is checked again", field="batch")
            run_checks(conn, name)
        return batch_summary(conn, name)


def row_detail(conn: psycopg.Connection, name: str, row_no: int) -> dict:
    feature = rows_geojson(name, problems=False, check=None, limit=1, first_row=row_no, conn=conn)["features"]
    if not feature or feature[0]["id"] != row_no:
        raise NotFound(f"batch {name!r} has no row {row_no}", field="row_no")
    out = feature[0]
    out["properties"]["issues"] = conn.execute(
        "SELECT i.check_code AS check, k.severity, i.field, i.message FROM survey_issue i "
        "JOIN survey_check k ON k.code = i.check_code WHERE i.batch = %s AND i.row_no = %s ORDER BY 1",
        [name, row_no]).fetchall()
    return out


def get_row(name: str, row_no: int, url: str | None = None) -> dict:
    with connect(url) as conn:
        _batch_row(conn, name)
        return row_detail(conn, name, row_no)


def list_corrections(name: str, url: str | None = None) -> list[dict]:
    with connect(url) as conn:
        _batch_row(conn, name)
        rows = conn.execute("SELECT id, row_no, corrected_at, corrected_by, changes, note FROM survey_correction "
                            "WHERE batch = %s ORDER BY id", [name]).fetchall()
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]


def rows_geojson(name: str, *, problems: bool = False, check: str | None = None, limit: int = 5000,
                 first_row: int | None = None, url: str | None = None,
                 conn: psycopg.Connection | None = None) -> dict:
    statement = _query("rows")
    params = {"batch": name, "problems": problems, "check": check, "limit": limit, "row": first_row}
    if conn is not None:
        return conn.execute(statement, params).fetchone()["collection"]
    with connect(url) as own:
        _batch_row(own, name)
        return own.execute(statement, params).fetchone()["collection"]


def coverage_geojson(*, standard: str | None = None, type_code: str | None = None, url: str | None = None) -> dict:
    with connect(url) as conn:
        std = standard_of(conn, standard) if standard else None
        return conn.execute(_query("coverage"), {"standard": std, "class": type_code}).fetchone()["collection"]


def latest_published(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT name FROM survey_batch WHERE status IN ('published', 'partially_published') "
                       "ORDER BY published_at DESC NULLS LAST LIMIT 1").fetchone()
    return row["name"] if row else None


def changes_geojson(batch: str | None = None, *, since: datetime | None = None, until: datetime | None = None,
                    limit: int = 20000, url: str | None = None) -> dict:
    """What a published batch (default: the latest) inserted or changed in the live layer."""
    with connect(url) as conn:
        if batch:
            _batch_row(conn, batch)
        else:
            batch = latest_published(conn)
        out = {"type": "FeatureCollection", "features": []}
        if batch:
            out = conn.execute(_query("changes"), {"batch": batch, "since": since, "until": until,
                                                   "limit": limit}).fetchone()["collection"]
        out["batch"] = batch
        return out
