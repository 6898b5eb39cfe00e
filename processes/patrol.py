"""`track` (轨迹回放) and `patrol-coverage` (巡查覆盖 / 电子围栏) over officer positions.

Shared rules (metres in EPSG:4548):
- a gap is a pause between two consecutive fixes longer than `gap_minutes`; distance and time on
  duty only add up intervals that are not gaps;
- a stop (驻留) is a run of fixes that stay within `stop_radius` metres of the run's first fix for
  at least `stop_minutes` (stay-point detection, Li et al. 2008);
- the fence (电子围栏) of an officer is the union of the responsibility grids assigned to them,
  widened by `fence_tolerance` metres against GPS jitter; a breach (patrol-coverage) or an
  out-of-grid stretch (track) runs from the first fix outside to the next fix inside (or to the
  last outside fix before a gap or the end of the window). The live alerts on the same fence are
  the database's geofence_scan (db/migrations/0870_geofence.sql).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, ClassVar

import numpy as np
from psycopg.rows import tuple_row
from pydantic import Field, model_validator

from civicgrid.db import load_sql
from civicgrid.processes.base import CivicProcessor, InvalidProcessInput
from civicgrid.processes.filters import Params, plan_rows

PACKAGE = "civicgrid.processes"

UTC = timezone.utc


class MovementParams(Params):
    start: datetime = Field(..., description="inclusive start (ISO 8601 with time zone)")
    end: datetime = Field(..., description="exclusive end (ISO 8601 with time zone)")
    gap_minutes: float = Field(10, ge=1, le=1440, description="a pause longer than this between fixes is a gap")
    stop_minutes: float = Field(5, ge=1, le=240, description="minimum dwell for a stop")
    stop_radius: float = Field(30, ge=5, le=500, description="a stop stays within this many metres")

    max_days: ClassVar[float] = 7

    @model_validator(mode="after")
    def _window(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start: start and end need a time zone, e.g. 2026-03-01T08:00:00+08:00")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        if self.end - self.start > timedelta(days=self.max_days):
            raise ValueError(f"end: the window may span at most {self.max_days:g} days")
        return self


class TrackParams(MovementParams):
    officer: int = Field(..., ge=1, description="officer id")
    tolerance: float = Field(5, ge=0, le=200, description="simplification tolerance in metres (0: keep every fix)")
    fence_tolerance: float = Field(20, ge=0, le=500, description="metres outside the grid still counted as inside")


class CoverageParams(MovementParams):
    officer: list[Annotated[int, Field(ge=1)]] | None = Field(None, max_length=500, description="officer ids (default: all with a grid)")
    fence_tolerance: float = Field(20, ge=0, le=500, description="metres outside the grid still counted as inside")
    max_days: ClassVar[float] = 31


def stay_points(t: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float, min_seconds: float,
                gap_seconds: float | None = None) -> list[tuple[int, int]]:
    """(first, last) index of each stop: fixes within `radius` of the first one for ≥ min_seconds."""
    n = len(t)
    out = []
    i = 0
    r2 = radius * radius
    while i < n:
        j = i + 1
        while j < n and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= r2 and (gap_seconds is None or t[j] - t[j - 1] <= gap_seconds):
            j += 1
        if t[j - 1] - t[i] >= min_seconds:
            out.append((i, j - 1))
            i = j
        else:
            i += 1
    return out


def movement_totals(t: np.ndarray, x: np.ndarray, y: np.ndarray, gap_seconds: float) -> dict:
    if len(t) < 2:
        return {"distance_m": 0.0, "on_duty_s": 0.0, "gaps": []}
    dt = np.diff(t)
    step = np.hypot(np.diff(x), np.diff(y))
    ok = dt <= gap_seconds
    gaps = [(int(k), int(k + 1)) for k in np.nonzero(~ok)[0]]
    return {"distance_m": float(step[ok].sum()), "on_duty_s": float(dt[ok].sum()), "gaps": gaps}


def outside_runs(t: np.ndarray, inside: np.ndarray, gap_seconds: float) -> list[tuple[int, int, int]]:
    """(first, last, end) index of each run of fixes outside the fence; a run breaks at a gap and
    ends at the next inside fix when that follows without a gap (else at its own last fix)."""
    out = []
    n = len(t)
    a = 0
    while a < n:
        if inside[a]:
            a += 1
            continue
        b = a
        while b + 1 < n and not inside[b + 1] and t[b + 1] - t[b] <= gap_seconds:
            b += 1
        end = b + 1 if b + 1 < n and inside[b + 1] and t[b + 1] - t[b] <= gap_seconds else b
        out.append((a, b, end))
        a = b + 1
    return out


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class TrackProcessor(CivicProcessor):
    id = "track"
    title = {"zh": "轨迹回放", "en": "Officer track"}
    description = {"zh": "网格员在时间窗内的轨迹（简化后用于回放）、驻留点、信号中断与统计",
                   "en": "One officer's positions for a window, simplified for playback, with stops, gaps and totals"}
    keywords = ["track", "轨迹回放", "stay points"]
    Params = TrackParams
    outputs = {"track": {"title": "Track", "description": "GeoJSON: the simplified track (with a time per vertex), the stops, "
                                                     "the gaps and the stretches outside the assigned grid, with totals",
                         "schema": {"type": "object", "contentMediaType": "application/geo+json"}}}
    example = {"inputs": {"officer": 1, "start": "2026-03-02T08:00:00+08:00", "end": "2026-03-02T18:00:00+08:00"}}
    # rows: the officer's fixes in the window (a fix every 5 s for 7 days is about 120,000)
    sync_cost_limits = {"rows": 300_000}
    cost_limits = {"rows": 2_000_000}
    rows_field = "end"

    def input_size(self, p: TrackParams, conn) -> int:
        return plan_rows(conn, "SELECT 1 FROM officer_position WHERE officer_id = %s AND recorded_at >= %s "
                               "AND recorded_at < %s", [p.officer, p.start, p.end])

    def run(self, p: TrackParams, conn):
        if conn.execute("SELECT 1 FROM officer WHERE id = %s", [p.officer]).fetchone() is None:
            raise InvalidProcessInput(f"officer: no officer with id {p.officer}", field="officer")
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(load_sql(PACKAGE, "track_positions.sql"), {"officer": p.officer, "start": p.start, "end": p.end})
            rows = cur.fetchall()
        arr = np.asarray(rows, dtype=float).reshape(-1, 6)      # epoch, x, y, lon, lat, metres outside the fence
        t, x, y = arr[:, 0], arr[:, 1], arr[:, 2]
        has_fence = bool(rows) and not np.isnan(arr[:, 5]).all()
        gap_s = p.gap_minutes * 60
        totals = movement_totals(t, x, y, gap_s)
        # segments between gaps, each simplified in EPSG:4548 keeping the time of every kept vertex
        bounds = [0] + [b for _, b in totals["gaps"]] + [len(t)]
        segments = []
        with conn.cursor(row_factory=tuple_row) as cur:
            for a, b in zip(bounds[:-1], bounds[1:]):
                if b - a == 0:
                    continue
                cur.execute(load_sql(PACKAGE, "track_simplify.sql"), {"t": t[a:b].tolist(), "x": x[a:b].tolist(), "y": y[a:b].tolist(),
                                                            "tol": float(p.tolerance)})
                segments.append([(m, lon, lat) for m, lon, lat in cur.fetchall()])
        stops = stay_points(t, x, y, p.stop_radius, p.stop_minutes * 60, gap_s)
        features = [{
            "type": "Feature", "id": "track",
            "geometry": {"type": "MultiLineString", "coordinates": [[[round(lo, 7), round(la, 7)] for _, lo, la in s] for s in segments]}
            if segments else None,
            "properties": {"kind": "track", "officer": p.officer,
                           "times": [[_iso(m) for m, _, _ in s] for s in segments]},
        }]
        for k, (i, j) in enumerate(stops):
            features.append({
                "type": "Feature", "id": f"stop-{k + 1}",
                "geometry": {"type": "Point", "coordinates": [round(float(arr[i:j + 1, 3].mean()), 7),
                                                              round(float(arr[i:j + 1, 4].mean()), 7)]},
                "properties": {"kind": "stop", "from": _iso(t[i]), "to": _iso(t[j]), "minutes": round((t[j] - t[i]) / 60, 1),
                               "fixes": j - i + 1}})
        lonlat = lambda i: [round(float(arr[i, 3]), 7), round(float(arr[i, 4]), 7)]
        gaps = [{"from": _iso(t[a]), "to": _iso(t[b]), "minutes": round((t[b] - t[a]) / 60, 1)} for a, b in totals["gaps"]]
        for k, ((a, b), gap) in enumerate(zip(totals["gaps"], gaps)):
            # the straight line the signal skipped (信号中断), drawn dashed by the page
            features.append({"type": "Feature", "id": f"gap-{k + 1}",
                             "geometry": {"type": "LineString", "coordinates": [lonlat(a), lonlat(b)]},
                             "properties": {"kind": "gap", **gap}})
        outside = []
        if has_fence:
            inside = arr[:, 5] <= p.fence_tolerance
            for k, (a, b, e) in enumerate(outside_runs(t, inside, gap_s)):
                # from the last fix inside (when it leads without a gap) to the first fix back inside
                a0 = a - 1 if a > 0 and inside[a - 1] and t[a] - t[a - 1] <= gap_s else a
                coords = [lonlat(i) for i in range(a0, e + 1)]
                props = {"kind": "outside", "from": _iso(t[a]), "to": _iso(t[e]), "minutes": round((t[e] - t[a]) / 60, 1),
                         "max_distance_m": round(float(arr[a:b + 1, 5].max()), 1), "fixes": b - a + 1}
                outside.append(props)
                features.append({"type": "Feature", "id": f"outside-{k + 1}",
                                 "geometry": {"type": "LineString", "coordinates": coords if len(coords) > 1 else coords * 2},
                                 "properties": props})
        doc = {"type": "FeatureCollection", "features": features, "gaps": gaps,
               "totals": {"positions": int(len(t)), "vertices": sum(len(s) for s in segments),
                          "distance_m": round(totals["distance_m"], 1),
                          "duration_minutes": round((t[-1] - t[0]) / 60, 1) if len(t) else 0.0,
                          "on_duty_minutes": round(totals["on_duty_s"] / 60, 1),
                          "stops": len(stops), "stop_minutes": round(sum((t[j] - t[i]) / 60 for i, j in stops), 1),
                          "gaps": len(gaps), "gap_minutes": round(sum(g["minutes"] for g in gaps), 1),
                          "outside": len(outside) if has_fence else None,
                          "outside_minutes": round(sum(o["minutes"] for o in outside), 1) if has_fence else None,
                          "start": _iso(t[0]) if len(t) else None, "end": _iso(t[-1]) if len(t) else None}}
        return "application/geo+json", json.dumps(doc, ensure_ascii=False)


class PatrolCoverageProcessor(CivicProcessor):
    id = "patrol-coverage"
    title = {"zh": "巡查覆盖与电子围栏", "en": "Patrol coverage and geofence breaches"}
    description = {"zh": "按网格员、责任网格和日期统计巡查里程、在岗时长、单元网格覆盖率、驻留与越界（电子围栏）",
                   "en": "Per officer, responsibility grid and day: distance walked, time on duty, share of unit grids "
                         "visited, stops, time outside the assigned grid with the intervals"}
    keywords = ["patrol", "coverage", "geofence", "电子围栏", "巡查"]
    Params = CoverageParams
    outputs = {"coverage": {"title": "Coverage", "description": "JSON rows, one per officer and day",
                            "schema": {"type": "object", "contentMediaType": "application/json"}}}
    example = {"inputs": {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00"}}
    # rows: the window's fixes (a unit-grid lookup each, then in Python per officer and day)
    sync_cost_limits = {"rows": 400_000}
    cost_limits = {"rows": 10_000_000}
    rows_field = "end"

    def input_size(self, p: CoverageParams, conn) -> int:
        return plan_rows(conn, "SELECT 1 FROM officer_position WHERE recorded_at >= %s AND recorded_at < %s "
                               "AND (%s::int[] IS NULL OR officer_id = ANY(%s::int[]))", [p.start, p.end, p.officer, p.officer])

    def run(self, p: CoverageParams, conn):
        grids = conn.execute(load_sql(PACKAGE, "coverage_grids.sql"), {"officer": p.officer}).fetchall()
        info = {g["officer_id"]: g for g in grids}
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(load_sql(PACKAGE, "coverage_positions.sql"), {"start": p.start, "end": p.end, "officer": p.officer,
                                                             "tol": float(p.fence_tolerance)})
            rows = cur.fetchall()
        out = []
        gap_s, stop_s = p.gap_minutes * 60, p.stop_minutes * 60
        k = 0
        while k < len(rows):
            officer, day = rows[k][0], rows[k][1]
            m = k
            while m < len(rows) and rows[m][0] == officer and rows[m][1] == day:
                m += 1
            chunk = rows[k:m]
            k = m
            t = np.array([r[2] for r in chunk], dtype=float)
            x = np.array([r[3] for r in chunk], dtype=float)
            y = np.array([r[4] for r in chunk], dtype=float)
            inside = np.array([r[5] for r in chunk], dtype=bool)
            grid_codes = {r[6] for r in chunk if r[6] is not None}
            g = info.get(officer)
            totals = movement_totals(t, x, y, gap_s)
            breaches = []
            if g is not None:
                breaches = [{"from": _iso(t[a]), "to": _iso(t[e]), "minutes": round((t[e] - t[a]) / 60, 1)}
                            for a, _, e in outside_runs(t, inside, gap_s)]
            stops = stay_points(t, x, y, p.stop_radius, stop_s, gap_s)
            members = g["unit_grids"] if g else 0
            out.append({
                "officer": officer, "officer_name": g["name"] if g else None,
                "responsibility_grids": g["grids"] if g else [], "day": day.isoformat(),
                "positions": len(t), "distance_m": round(totals["distance_m"], 1),
                "on_duty_minutes": round(totals["on_duty_s"] / 60, 1),
                "unit_grids": members, "unit_grids_visited": len(grid_codes),
                "visited_share": round(len(grid_codes) / members, 4) if members else None,
                "stops": len(stops),
                "outside_minutes": round(sum(b["minutes"] for b in breaches), 1) if g else None,
                "breaches": breaches,
                "gaps": len(totals["gaps"]),
            })
        return "application/json", {"start": p.start.isoformat(), "end": p.end.isoformat(), "rows": out}
