"""`area-evaluation` (综合评价): indicators, composite scores and A–E grades for a period.

Levels: unit_grid (单元网格), community (社区/村), responsibility_grid (责任网格) — 区域评价;
department (专业部门评价); officer (监督员评价). Formulas: domain.md §1.8. Weights, grade bands,
the channels that count as 监督举报, the field-task time limits and the 立案数 score rule are data
in `evaluation.yml`.

How each indicator is derived from `cases` + `case_event` (period [start, end), as of `end`):

区域 (per area of the case's unit_grid_code / community_code / responsibility_grid_code)
- 立案数   cases whose first `file` event is in the period, unless their state at the end is
           `suspended` (挂账) or `cancelled` (作废)
- 结案数   of those, cases with an event into `closed` before the end;  结案率 = 结案数 / 立案数
- 按期结案数 closed, and the last `feedback` (or the closing, without feedback) no later than the
           deadline (data.deadline_at of the last `dispatch`, else cases.deadline_at; none → on time)
- 返工数   filed cases with at least one `rework`;             返工率 = 返工数 / 立案数
- 监督举报数 filed cases from a public channel (public, hotline); 监督举报率 = 监督举报数 / 立案数
- 综合 = (1 − 监督举报率)×100 × w1 + 立案数分值 × w2 + 结案率×100 × w3 + 按期结案率×100 × w4

专业部门 (cases whose first `dispatch` is in the period, by the department of the last dispatch)
- 处置数 with a `feedback`; 按期处置数 feedback ≤ deadline; 超期处置数 feedback > deadline;
  超期未处置数 no feedback and deadline passed before the end (not cancelled/suspended)
- 应处置数 = 应结案数 = 处置数 + 超期未处置数 (cases still inside their limit are not due yet)
- 结案率 = 结案数 / 应结案数; 按期处置率 = 按期处置数 / 应处置数; 返工率 = 返工数 / 应结案数
- 综合 = 立案数分值 × w1 + 结案率×100 × w2 + 按期处置率×100 × w3 + (1 − 返工率)×100 × w4

监督员 (officer)
- 上报数 patrol cases with reporter_officer_id reported in the period; 有效上报数 those filed
- 漏报数 filed public-channel cases in the officer's grid (cases.officer_id); 漏报率 = 漏报数 / 网格立案数
- 应核实数 entries into `verifying` in the period for the officer's cases; 按时 = the next `verify`
  within data.deadline_at of that event, else within verify_limit_minutes
- 应核查数 `feedback` events in the period; 按时 = the next `check_pass`/`rework` within
  data.check_deadline_at, else check_limit_minutes
- 综合 = 有效上报率 × w1 + (1 − 漏报率) × w2 + 按时核实率 × w3 + 按时核查率 × w4 (×100)

A rate whose denominator is 0 is reported as null and scores as "nothing to blame" (full marks)
in the composite.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from psycopg import sql
from pydantic import Field, model_validator

from civicgrid.db import load_sql
from civicgrid.processes.base import CivicProcessor
from civicgrid.processes.filters import TimeParams, plan_rows

PACKAGE = "civicgrid.processes"

CONFIG_PATH = Path(__file__).with_name("evaluation.yml")

AREA_TABLES = {
    "unit_grid": ("unit_grid_code", "(SELECT code, coalesce(name, code) AS name, geom FROM unit_grid)"),
    "community": ("community_code", "(SELECT code, name, geom FROM community)"),
    "responsibility_grid": ("responsibility_grid_code", "(SELECT code, name, geom FROM responsibility_grid)"),
}


@lru_cache(maxsize=1)
def load_config(path: str = str(CONFIG_PATH)) -> dict:
    cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for level in ("area", "department", "officer"):
        total = sum(cfg[level]["weights"].values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"evaluation.yml: weights of {level} sum to {total}, not 1")
    return cfg


class EvaluationParams(TimeParams):
    level: Literal["unit_grid", "community", "responsibility_grid", "department", "officer"] = Field(
        "unit_grid", description="unit_grid, community, responsibility_grid, department or officer")
    format: Literal["geojson", "csv", "json"] = Field("geojson", description="geojson (choropleth), csv or json rows")

    @model_validator(mode="after")
    def _period(self):
        if self.start is None or self.end is None:
            raise ValueError("start: the period needs both start and end")
        if self.end - self.start > timedelta(days=1100):
            raise ValueError("end: the period may span at most 1100 days")
        return self


def rate(num: int, den: int) -> float | None:
    return None if den == 0 else min(1.0, num / den)


def grade(score: float, cfg: dict) -> str:
    for band in cfg["grades"]:
        if score >= band["min"]:
            return band["grade"]
    return cfg["grades"][-1]["grade"]


def count_scores(values: list[int], rule: dict) -> list[float]:
    """立案数分值 (fewer is better): relative min–max among peers, or fixed bands."""
    if rule["method"] == "bands":
        out = []
        for v in values:
            for band in rule["bands"]:
                if band["max"] is None or v <= band["max"]:
                    out.append(float(band["score"]))
                    break
        return out
    lo, hi = (min(values), max(values)) if values else (0, 0)
    return [100.0 if hi == lo else 100.0 * (hi - v) / (hi - lo) for v in values]


def _good(r):   # a good rate (higher is better) as a 0–100 score; no data → full marks
    return 100.0 if r is None else 100.0 * r


def _bad(r):    # a bad rate (lower is better)
    return 100.0 if r is None else 100.0 * (1 - r)


def score_rows(level: str, rows: list[dict], cfg: dict) -> list[dict]:
    if level in AREA_TABLES:
        w = cfg["area"]["weights"]
        filed_scores = count_scores([r["filed"] for r in rows], cfg["area"]["filed_score"])
        for r, fs in zip(rows, filed_scores):
            r["closed_rate"] = rate(r["closed"], r["filed"])
            r["on_time_closed_rate"] = rate(r["on_time_closed"], r["filed"])
            r["rework_rate"] = rate(r["reworked"], r["filed"])
            r["public_report_rate"] = rate(r["public_reports"], r["filed"])
            r["filed_score"] = fs
            r["score"] = (w["public_report_score"] * _bad(r["public_report_rate"]) + w["filed_score"] * fs
                          + w["closed_rate"] * _good(r["closed_rate"]) + w["on_time_closed_rate"] * _good(r["on_time_closed_rate"]))
    elif level == "department":
        w = cfg["department"]["weights"]
        filed_scores = count_scores([r["dispatched"] for r in rows], cfg["department"]["filed_score"])
        for r, fs in zip(rows, filed_scores):
            r["due"] = r["handled"] + r["overdue_unhandled"]
            r["closed_rate"] = rate(r["closed"], r["due"])
            r["on_time_handled_rate"] = rate(r["on_time_handled"], r["due"])
            r["rework_rate"] = rate(r["reworked"], r["due"])
            r["filed_score"] = fs
            r["score"] = (w["filed_score"] * fs + w["closed_rate"] * _good(r["closed_rate"])
                          + w["on_time_handled_rate"] * _good(r["on_time_handled_rate"]) + w["rework_score"] * _bad(r["rework_rate"]))
    else:
        w = cfg["officer"]["weights"]
        for r in rows:
            r["valid_report_rate"] = rate(r["valid_reports"], r["reports"])
            r["missed_rate"] = rate(r["missed"], r["grid_filed"])
            r["on_time_verify_rate"] = rate(r["verified_on_time"], r["to_verify"])
            r["on_time_check_rate"] = rate(r["checked_on_time"], r["to_check"])
            r["score"] = (w["valid_report_rate"] * _good(r["valid_report_rate"]) + w["missed_score"] * _bad(r["missed_rate"])
                          + w["on_time_verify_rate"] * _good(r["on_time_verify_rate"])
                          + w["on_time_check_rate"] * _good(r["on_time_check_rate"]))
    for r in rows:
        r["score"] = round(r["score"], 2)
        r["grade"] = grade(r["score"], cfg)
        for k, v in list(r.items()):
            if k.endswith("_rate") and v is not None:
                r[k] = round(v, 4)
    return rows


def evaluate(conn, level: str, start, end, cfg: dict | None = None) -> list[dict]:
    """Rows of indicators with score and grade (plus `geom` as GeoJSON text, or None)."""
    cfg = cfg or load_config()
    facts = load_sql(PACKAGE, "evaluation_facts.sql")
    params = {"start": start, "end": end, "public_channels": cfg["public_channels"],
              "verify_limit": timedelta(minutes=cfg["verify_limit_minutes"]),
              "check_limit": timedelta(minutes=cfg["check_limit_minutes"])}
    if level in AREA_TABLES:
        key, areas = AREA_TABLES[level]
        q = sql.SQL(facts + load_sql(PACKAGE, "evaluation_area.sql")).format(key=sql.Identifier(key), areas=sql.SQL(areas))
    else:
        q = sql.SQL(facts + load_sql(PACKAGE, f"evaluation_{level}.sql"))
    rows = [dict(r) for r in conn.execute(q, params).fetchall()]
    return score_rows(level, rows, cfg)


class AreaEvaluationProcessor(CivicProcessor):
    id = "area-evaluation"
    title = {"zh": "综合评价", "en": "Area, department and officer evaluation"}
    description = {"zh": "按单元网格、社区、责任网格、专业部门或监督员计算评价指标、综合指标值与 A–E 等级",
                   "en": "Evaluation indicators, composite score and A–E grade per unit grid, community, "
                         "responsibility grid, department or officer"}
    keywords = ["综合评价", "evaluation", "choropleth"]
    Params = EvaluationParams
    outputs = {"evaluation": {"title": "Evaluation", "description": "GeoJSON for a choropleth, CSV or JSON rows",
                              "schema": {"oneOf": [{"type": "object", "contentMediaType": "application/geo+json"},
                                                   {"type": "string", "contentMediaType": "text/csv"}]}}}
    example = {"inputs": {"level": "unit_grid", "start": "2026-01-01T00:00:00+08:00", "end": "2027-01-01T00:00:00+08:00"}}
    # rows: the period's case events (each case's events are read again up to the end)
    sync_cost_limits = {"rows": 2_000_000}
    cost_limits = {"rows": 20_000_000}
    rows_field = "end"

    def input_size(self, p: EvaluationParams, conn) -> int:
        return plan_rows(conn, "SELECT 1 FROM case_event WHERE at >= %s AND at < %s", [p.start, p.end])

    def run(self, p: EvaluationParams, conn):
        cfg = load_config()
        rows = evaluate(conn, p.level, p.start, p.end, cfg)
        if p.format == "csv":
            return "text/csv; charset=utf-8", to_csv(rows, cfg)
        if p.format == "json":
            for r in rows:
                r.pop("geom", None)
            return "application/json", {"level": p.level, "start": p.start.isoformat(), "end": p.end.isoformat(), "rows": rows}
        features = []
        for r in rows:
            geom = r.pop("geom", None)
            features.append({"type": "Feature", "id": r["code"], "geometry": json.loads(geom) if geom else None, "properties": r})
        doc = {"type": "FeatureCollection", "level": p.level, "start": p.start.isoformat(), "end": p.end.isoformat(),
               "numberMatched": len(features), "features": features}
        return "application/geo+json", json.dumps(doc, ensure_ascii=False)


def to_csv(rows: list[dict], cfg: dict) -> str:
    labels = cfg["labels"]
    columns = [k for k in (rows[0].keys() if rows else ["code", "name"]) if k not in ("geom", "filed_score")]
    buf = io.StringIO()
    buf.write("\ufeff")   # Excel opens UTF-8 CSV correctly only with the BOM
    w = csv.writer(buf)
    w.writerow([labels.get(c, c) for c in columns])
    for r in rows:
        w.writerow(["" if r[c] is None else r[c] for c in columns])
    return buf.getvalue()
