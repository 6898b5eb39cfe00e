"""Survey batches: import (read → stage → check), publish, roll back, and list them.

Framework-free functions used by the CLI (survey/cli.py) and the HTTP API (survey/api.py).
Every function that writes runs in one transaction: a failure leaves nothing half-written.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable

import psycopg
from psycopg.types.json import Jsonb

from civicgrid.db import connect, load_sql
from civicgrid.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from civicgrid.survey.mapping import Mapping, load_mapping
from civicgrid.survey.reader import Attribute, read_survey_file

BATCH_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")

# Attribute abbreviation → column of `component` (the 18 standard attributes).
COMPONENT_COLUMNS = {
    "GLBJBSM": "id", "GLBJMC": "name", "ZGBMDM": "dept_code", "ZGBMMC": "dept_name",
    "QSDWDM": "owner_code", "QSDWMC": "owner_name", "YHDWDM": "maintainer_code", "YHDWMC": "maintainer_name",
    "SZDYWGBSM": "unit_grid_code", "GLBJZT": "status", "CSRQ": "initial_date", "BGRQ": "change_date",
    "SJLY": "data_source", "BZ": "note", "SZJDDM": "street_code", "SZJDMC": "street_name",
    "SZSQDM": "community_code", "SZSQMC": "community_name",
}
DATA_COLUMNS = [c for c in COMPONENT_COLUMNS.values() if c != "id"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


NULL = "\\N"


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _noop(stage: str, done: int, total: int) -> None:
    pass


@lru_cache(maxsize=4)
def sql_steps(name: str) -> list[tuple[str, str]]:
    """The statements of survey/sql/NAME.sql, split at '-- step:' lines, with their titles."""
    text = load_sql("civicgrid.survey", f"{name}.sql")
    parts = re.split(r"^-- step: (.*)$", text, flags=re.MULTILINE)
    return [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts), 2)]


def standard_of(conn: psycopg.Connection, short_or_full: str | None) -> str:
    key = (short_or_full or "gbt47678").strip()
    row = conn.execute("SELECT standard FROM code_standard WHERE short_name = %s OR standard = %s",
                       [key, key]).fetchone()
    if not row:
        names = [r["short_name"] for r in conn.execute("SELECT short_name FROM code_standard ORDER BY 1")]
        raise InvalidInput(f"unknown standard {key!r}: use one of {', '.join(names)}", field="standard")
    return row["standard"]


def attributes(conn: psycopg.Connection) -> list[Attribute]:
    return [Attribute(r["abbreviation"], r["field_name"]) for r in conn.execute(
        "SELECT abbreviation, field_name FROM standard_attribute WHERE kind = 'component' ORDER BY position")]


def _batch_name(given: str | None, file_name: str, sha: str) -> str:
    if given:
        if not BATCH_NAME.match(given):
            raise InvalidInput("batch name: 1–80 characters of A–Z a–z 0–9 _ . : -", field="batch")
        return given
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(file_name).stem).strip("-.")[:60]
    return f"{stem or 'survey'}-{sha[:8]}"


@dataclass
class ImportOutcome:
    batch: str
    created: bool                      # False: the same file was imported before (no-op)
    summary: dict
    timings: dict = field(default_factory=dict)


def run_checks(conn: psycopg.Connection, batch: str, progress: Progress = _noop) -> dict:
    """Run every check of survey/sql/check.sql on a staged batch; returns seconds per step."""
    timings = {}
    steps = sql_steps("check")
    for i, (title, statement) in enumerate(steps):
        t = time.perf_counter()
        conn.execute(statement, {"batch": batch})
        timings[title] = time.perf_counter() - t
        progress("check", i + 1, len(steps))
    conn.execute("UPDATE survey_batch SET live_mark = (SELECT coalesce(max(history_id), 0) FROM component_history) "
                 "WHERE name = %s", [batch])
    return timings


def import_file(path: str | Path, *, crs: str | None = None, standard: str | None = None,
                mapping: Mapping | str | Path | dict | None = None, batch: str | None = None,
                file_name: str | None = None, actor: str | None = None, url: str | None = None,
                progress: Progress = _noop, replace: bool = False) -> ImportOutcome:
    """Read, stage and check one surveyor's file. The live layer is not touched. With `replace`, a
    staged batch of the same file is dropped first (read again with another CRS, standard or mapping)."""
    path = Path(path)
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    timings = {}
    with connect(url) as conn:
        std = standard_of(conn, standard)
        attrs = attributes(conn)
        # a bad mapping is refused even when the file itself was imported before
        by_abbr = {a.abbreviation.upper(): a.abbreviation for a in attrs}
        by_name = {a.field_name: a.abbreviation for a in attrs}
        mapping.resolved_columns(by_abbr, by_name)
        mapping.resolved_defaults(by_abbr, by_name)
        from civicgrid.survey.reader import file_sha256
        sha = file_sha256(path) if path.is_file() else None
        if sha:
            existing = conn.execute("SELECT name, status FROM survey_batch WHERE file_sha256 = %s", [sha]).fetchone()
            if existing and replace:
                if existing["status"] != "staged":
                    raise Conflict(f"batch {existing['name']!r} of this file is {existing['status']}: only a staged "
                                   "batch can be read again", field="replace")
                with conn.transaction():
                    conn.execute("DELETE FROM survey_batch WHERE name = %s", [existing["name"]])
                batch = batch or existing["name"]
            elif existing:
                return ImportOutcome(existing["name"], False, batch_summary(conn, existing["name"]))
        t = time.perf_counter()
        progress("read", 0, 1)
        result = read_survey_file(path, attrs, crs=crs, mapping=mapping)
        timings["read"] = time.perf_counter() - t
        progress("read", 1, 1)
        name = _batch_name(batch, file_name or path.name, result.sha256)
        with conn.transaction():
            if actor:
                conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [actor])
            try:
                conn.execute(
                    "INSERT INTO survey_batch (name, file_name, file_sha256, file_format, standard, source_crs, "
                    "crs_note, mapping) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [name, file_name or path.name, result.sha256, result.file_format, std, result.source_crs,
                     result.crs_note, Jsonb(mapping.model_dump(exclude_none=True) | {"resolved": result.columns})])
            except psycopg.errors.UniqueViolation as exc:
                raise Conflict(f"batch {name!r} exists already: choose another --batch name", field="batch") from exc
            t = time.perf_counter()
            total = len(result.rows)
            # COPY in text format, lines built here: one write per 5 000 rows instead of per-row adaptation
            with conn.cursor().copy(
                    "COPY survey_row (batch, row_no, attrs, extra, geom, geom_error) FROM STDIN") as copy:
                esc_name = _copy_text(name)
                chunk = []
                for i, (row_no, a, extra, wkb, err) in enumerate(result.rows, start=1):
                    chunk.append(f"{esc_name}\t{row_no}\t{_copy_text(a)}\t{_copy_text(extra)}\t"
                                 f"{wkb or NULL}\t{_copy_text(err) if err else NULL}\n")
                    if i % 5000 == 0:
                        copy.write("".join(chunk))
                        chunk = []
                        progress("stage", i, total)
                copy.write("".join(chunk))
            progress("stage", total, total)
            conn.execute("ANALYZE survey_row")
            timings["stage"] = time.perf_counter() - t
            t = time.perf_counter()
            timings["checks"] = run_checks(conn, name, progress)
            timings["check"] = time.perf_counter() - t
        return ImportOutcome(name, True, batch_summary(conn, name), timings)


# ---------------------------------------------------------------- reading batches

def _batch_row(conn: psycopg.Connection, name: str, lock: bool = False) -> dict:
    row = conn.execute("SELECT * FROM survey_batch WHERE name = %s" + (" FOR UPDATE" if lock else ""),
                       [name]).fetchone()
    if not row:
        raise NotFound(f"no survey batch {name!r}", field="batch")
    return row


def batch_summary(conn: psycopg.Connection, name: str) -> dict:
    b = _batch_row(conn, name)
    checks = conn.execute(
        "SELECT k.code, k.severity, k.title, count(i.row_no) AS rows FROM survey_issue i "
        "JOIN survey_check k ON k.code = i.check_code WHERE i.batch = %s GROUP BY k.code, k.severity, k.title "
        "ORDER BY k.severity, count(i.row_no) DESC", [name]).fetchall()
    actions = {r["action"]: r["n"] for r in conn.execute(
        "SELECT coalesce(action, 'error') AS action, count(*) AS n FROM survey_row WHERE batch = %s GROUP BY 1",
        [name])}
    return {
        "batch": b["name"], "file_name": b["file_name"], "file_sha256": b["file_sha256"],
        "file_format": b["file_format"], "standard": b["standard"], "source_crs": b["source_crs"],
        "crs_note": b["crs_note"], "status": b["status"], "rows": b["row_count"], "error_rows": b["error_rows"],
        "warning_rows": b["warning_rows"], "valid_rows": b["row_count"] - b["error_rows"],
        "published_rows": b["published_rows"], "actions": actions, "checks": checks,
        "created_at": _iso(b["created_at"]), "published_at": _iso(b["published_at"]),
        "rolled_back_at": _iso(b["rolled_back_at"]),
        # how the file's columns were read (surveyor column → attribute), for the page to show and change
        "columns": (b["mapping"] or {}).get("resolved", {}),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def list_batches(url: str | None = None) -> list[dict]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT name, file_name, standard, source_crs, status, row_count, error_rows, warning_rows, "
            "published_rows, created_at, published_at, rolled_back_at FROM survey_batch ORDER BY created_at").fetchall()
    return [{k: _iso(v) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]


def get_batch(name: str, url: str | None = None) -> dict:
    with connect(url) as conn:
        return batch_summary(conn, name)


def list_issues(name: str, *, check: str | None = None, severity: str | None = None, limit: int = 1000,
                offset: int = 0, url: str | None = None) -> list[dict]:
    with connect(url) as conn:
        _batch_row(conn, name)
        return conn.execute(
            # the component ID the surveyor knows: the checked one, else the one in his file
            "SELECT i.row_no, coalesce(s.final_id, s.attrs ->> 'GLBJBSM') AS component_id, i.check_code AS check, "
            "k.severity, i.field, i.message, s.final_id AS id, s.type_code AS class_code "
            "FROM survey_issue i JOIN survey_check k ON k.code = i.check_code "
            "JOIN survey_row s ON (s.batch, s.row_no) = (i.batch, i.row_no) "
            "WHERE i.batch = %(b)s AND (%(c)s::text IS NULL OR i.check_code = %(c)s) "
            "AND (%(s)s::text IS NULL OR k.severity = %(s)s) "
            "ORDER BY i.row_no, i.check_code LIMIT %(l)s OFFSET %(o)s",
            {"b": name, "c": check, "s": severity, "l": limit, "o": offset}).fetchall()


# ---------------------------------------------------------------- publish and roll back

def _set_context(conn: psycopg.Connection, batch: str, actor: str | None) -> None:
    conn.execute("SELECT set_config('civicgrid.batch', %s, true)", [batch])
    if actor:
        conn.execute("SELECT set_config('civicgrid.actor', %s, true)", [actor])


def publish(name: str, *, valid_only: bool = False, actor: str | None = None, url: str | None = None) -> dict:
    """Write a checked batch into the live layer in one transaction (history rows carry the batch name)."""
    cols = ", ".join(DATA_COLUMNS)
    with connect(url) as conn:
        with conn.transaction():
            b = _batch_row(conn, name, lock=True)
            if b["status"] != "staged":
                raise Conflict(f"batch {name!r} is {b['status']}: only a staged batch can be published",
                               field="batch")
            # Serialise publishes: the checks below must see the live layer they write into.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('civicgrid.survey.publish'))")
            mark = conn.execute("SELECT coalesce(max(history_id), 0) AS m FROM component_history").fetchone()["m"]
            rechecked = mark != b["live_mark"]
            if rechecked:  # the live layer changed since the checks ran: check again against it
                run_checks(conn, name)
                b = _batch_row(conn, name)
            if b["error_rows"] and not valid_only:
                raise PreconditionFailed(
                    f"batch {name!r} has {b['error_rows']} row(s) with errors; fix the file, or publish only "
                    f"the {b['row_count'] - b['error_rows']} valid row(s) with --valid-only (valid_only=true)",
                    field="valid_only")
            _set_context(conn, name, actor)
            t = time.perf_counter()
            inserted = conn.execute(
                f"INSERT INTO component (id, standard, kind, type_code, {cols}, extra, geom) "
                f"SELECT id, standard, 'component', type_code, {cols}, extra, geom FROM survey_candidate "
                "WHERE batch = %s AND NOT has_error AND action = 'insert' ORDER BY id", [name]).rowcount
            sets = ", ".join(f"{c} = v.{c}" for c in DATA_COLUMNS)
            updated = conn.execute(
                f"UPDATE component c SET {sets}, extra = v.extra, geom = v.geom, version = c.version + 1, "
                "updated_at = now(), updated_by = cg_actor() FROM survey_candidate v "
                "WHERE v.batch = %s AND NOT v.has_error AND v.action = 'update' AND c.id = v.id", [name]).rowcount
            seconds = time.perf_counter() - t
            status = "partially_published" if b["error_rows"] else "published"
            conn.execute("UPDATE survey_batch SET status = %s, published_rows = %s, published_at = now(), "
                         "published_by = cg_actor() WHERE name = %s", [status, inserted + updated, name])
        return {"batch": name, "status": status, "inserted": inserted, "updated": updated,
                "skipped_error_rows": b["error_rows"], "rechecked": rechecked, "seconds": round(seconds, 3)}


def rollback(name: str, *, actor: str | None = None, url: str | None = None) -> dict:
    """Restore the components a published batch inserted or changed to their state before it."""
    cols = [c for c in DATA_COLUMNS]
    with connect(url) as conn:
        with conn.transaction():
            b = _batch_row(conn, name, lock=True)
            if b["status"] not in ("published", "partially_published"):
                raise Conflict(f"batch {name!r} is {b['status']}: only a published batch can be rolled back",
                               field="batch")
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('civicgrid.survey.publish'))")
            # refuse when a component no longer holds what the batch wrote (a later change that was
            # itself rolled back does not count: the content is compared, not the history)
            later = conn.execute(
                "SELECT h.component_id FROM component_history h LEFT JOIN component c ON c.id = h.component_id "
                "WHERE h.batch = %s AND h.operation IN ('insert', 'update') AND (c.id IS NULL OR "
                " (to_jsonb(c) - ARRAY['version', 'updated_at', 'updated_by', 'id_length']) IS DISTINCT FROM "
                " (h.new_row - ARRAY['version', 'updated_at', 'updated_by'])) ORDER BY 1 LIMIT 11", [name]).fetchall()
            if later:
                ids = [r["component_id"] for r in later]
                raise Conflict(f"cannot roll back {name!r}: {'more than 10' if len(ids) > 10 else len(ids)} "
                               f"component(s) changed after it, e.g. {', '.join(ids[:10])}", field="batch")
            _set_context(conn, f"rollback:{name}", actor)
            deleted = conn.execute(
                "DELETE FROM component c USING component_history h WHERE h.batch = %s AND h.operation = 'insert' "
                "AND c.id = h.component_id", [name]).rowcount
            sets = ", ".join(f"{c} = o.{c}" for c in cols)
            restored = conn.execute(
                f"UPDATE component c SET {sets}, extra = o.extra, "
                "geom = ST_SetSRID(ST_GeomFromGeoJSON(h.old_row -> 'geom'), 4490), version = c.version + 1, "
                "updated_at = now(), updated_by = cg_actor() "
                "FROM component_history h, jsonb_populate_record(NULL::component, h.old_row - 'geom') o "
                "WHERE h.batch = %s AND h.operation = 'update' AND c.id = h.component_id", [name]).rowcount
            conn.execute("UPDATE survey_batch SET status = 'rolled_back', rolled_back_at = now(), "
                         "rolled_back_by = cg_actor() WHERE name = %s", [name])
        return {"batch": name, "status": "rolled_back", "deleted": deleted, "restored": restored}


def unmapped_codes(standard: str | None = None, url: str | None = None) -> list[dict]:
    with connect(url) as conn:
        std = standard_of(conn, standard) if standard else None
        return conn.execute(
            "SELECT standard, code, name, reason FROM survey_unmapped_codes "
            "WHERE %(s)s::text IS NULL OR standard = %(s)s ORDER BY standard, code", {"s": std}).fetchall()


def catalog_mapping(url: str | None = None) -> list[dict]:
    with connect(url) as conn:
        return conn.execute(
            "SELECT m.from_standard, m.from_code, f.name AS from_name, m.to_standard, m.to_code, t.name AS to_name, "
            "m.note FROM catalog_mapping m "
            "JOIN code_catalog f ON (f.standard, f.kind, f.code) = (m.from_standard, m.from_kind, m.from_code) "
            "JOIN code_catalog t ON (t.standard, t.kind, t.code) = (m.to_standard, m.to_kind, m.to_code) "
            "WHERE m.from_kind = 'component' ORDER BY m.from_standard, m.from_code").fetchall()
