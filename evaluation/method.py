"""The evaluation method (评价方法): weights, grade bands, score rules, time limits and the actions
each role is judged by — data, versioned in `evaluation_method`. Version 1 is processes/evaluation.yml
(the area-evaluation process reads the same file); admins change it through PUT /api/evaluation/method,
validated here, and every revision records the version it used.

The entity kinds and the indicators shown for each (in table order) are `KINDS`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from civicgrid.errors import InvalidInput
from civicgrid.processes.evaluation import AREA_TABLES, load_config, rate, score_rows

# kind → (中文, counted indicators, rates shown), in the tables' column order
KINDS: dict[str, tuple[str, list[str], list[str]]] = {
    "unit_grid": ("单元网格", ["filed", "closed", "on_time_closed", "reworked", "public_reports"],
                  ["closed_rate", "on_time_closed_rate", "rework_rate", "public_report_rate"]),
    "community": ("社区/村", ["filed", "closed", "on_time_closed", "reworked", "public_reports"],
                  ["closed_rate", "on_time_closed_rate", "rework_rate", "public_report_rate"]),
    "responsibility_grid": ("责任网格", ["filed", "closed", "on_time_closed", "reworked", "public_reports"],
                            ["closed_rate", "on_time_closed_rate", "rework_rate", "public_report_rate"]),
    "department": ("专业部门", ["dispatched", "handled", "on_time_handled", "overdue_handled", "overdue_unhandled",
                            "closed", "reworked"], ["closed_rate", "on_time_handled_rate", "rework_rate"]),
    "officer": ("监督员", ["reports", "valid_reports", "grid_filed", "missed", "to_verify", "verified_on_time",
                        "to_check", "checked_on_time"],
                ["valid_report_rate", "missed_rate", "on_time_verify_rate", "on_time_check_rate"]),
    "intake_operator": ("受理员", ["accepted", "verify_sent", "verify_sent_on_time", "check_sent", "check_sent_on_time"],
                        ["on_time_verify_dispatch_rate", "on_time_check_dispatch_rate"]),
    "shift_leader": ("值班长", ["filed", "filed_on_time", "cancelled", "closed", "closed_on_time"],
                     ["on_time_file_rate", "accurate_file_rate", "on_time_close_rate"]),
    "dispatcher": ("派遣员", ["dispatched", "dispatched_on_time", "misdispatched"],
                   ["on_time_dispatch_rate", "accurate_dispatch_rate"]),
}
AREA_KINDS = tuple(AREA_TABLES)
# labels that differ by kind from the shared label list
KIND_LABELS = {("dispatcher", "dispatched"): "应派遣数", ("shift_leader", "filed"): "立案数",
               ("shift_leader", "closed"): "结案数", ("department", "dispatched"): "立案数(派遣)"}


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: str = Field(pattern=r"^[A-Z]$")
    min: float = Field(ge=0, le=100)


class CountBand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: int | None = Field(None, ge=0)
    min: int | None = Field(None, ge=0)
    score: float = Field(ge=0, le=100)


class CountRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["relative", "bands", "bands_min"]
    bands: list[CountBand] = []

    @model_validator(mode="after")
    def _bands(self):
        if self.method == "bands" and (not self.bands or self.bands[-1].max is not None):
            raise ValueError("bands: the last band must have max null (it catches everything above)")
        if self.method == "bands_min" and (not self.bands or self.bands[-1].min != 0):
            raise ValueError("bands: the last band must have min 0 (it catches everything below)")
        return self


class Section(BaseModel):
    model_config = ConfigDict(extra="allow")
    weights: dict[str, float]

    @model_validator(mode="after")
    def _weights(self):
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights: a weight cannot be negative")
        if abs(sum(self.weights.values()) - 1) > 1e-6:
            raise ValueError(f"weights: they sum to {sum(self.weights.values()):g}, not 1")
        return self


WEIGHT_KEYS = {
    "area": {"public_report_score", "filed_score", "closed_rate", "on_time_closed_rate"},
    "department": {"filed_score", "closed_rate", "on_time_handled_rate", "rework_score"},
    "officer": {"valid_report_rate", "missed_score", "on_time_verify_rate", "on_time_check_rate"},
    "intake_operator": {"accepted_score", "on_time_verify_dispatch_rate", "on_time_check_dispatch_rate"},
    "shift_leader": {"on_time_file_rate", "accurate_file_rate", "on_time_close_rate"},
    "dispatcher": {"dispatched_score", "on_time_dispatch_rate", "accurate_dispatch_rate"},
}
COUNT_RULES = {"area": "filed_score", "department": "filed_score", "intake_operator": "accepted_score",
               "dispatcher": "dispatched_score"}
ACTIONS = {"intake_operator": {"accept", "verify_dispatch", "check_dispatch"}, "shift_leader": {"file"},
           "dispatcher": {"dispatch", "misdispatch"}}


class Method(BaseModel):
    model_config = ConfigDict(extra="allow")
    grades: list[Band] = Field(min_length=2)
    public_channels: list[str]
    verify_limit_minutes: int = Field(ge=1, le=100_000)
    check_limit_minutes: int = Field(ge=1, le=100_000)
    area: Section
    department: Section
    officer: Section
    intake_operator: Section
    shift_leader: Section
    dispatcher: Section

    @model_validator(mode="after")
    def _sections(self):
        mins = [b.min for b in self.grades]
        if mins != sorted(mins, reverse=True) or mins[-1] != 0:
            raise ValueError("grades: bands go from the highest min down to min 0")
        for name, keys in WEIGHT_KEYS.items():
            section = getattr(self, name)
            if set(section.weights) != keys:
                raise ValueError(f"{name}.weights: needs exactly {', '.join(sorted(keys))}")
            if name in COUNT_RULES:
                raw = getattr(section, COUNT_RULES[name], None)
                try:
                    CountRule.model_validate(raw)
                except ValidationError as exc:
                    raise ValueError(f"{name}.{COUNT_RULES[name]}: {exc.errors()[0]['msg']}") from None
            if name in ACTIONS:
                acts = getattr(section, "actions", None) or {}
                if set(acts) != ACTIONS[name] or not all(isinstance(v, list) and all(isinstance(a, str) for a in v)
                                                         for v in acts.values()):
                    raise ValueError(f"{name}.actions: needs lists of action names for {', '.join(sorted(ACTIONS[name]))}")
        if not (isinstance(getattr(self.shift_leader, "cancelled_states", None), list)):
            raise ValueError("shift_leader.cancelled_states: a list of states")
        return self


def validate(config: dict) -> dict:
    """The config as given (validated), or a 400 naming the first wrong field under `config`."""
    try:
        Method.model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        # a validator names the field inside its section as "name: message"
        parts = ["config"] + ([loc] if loc else []) + ([msg.split(":", 1)[0]] if ":" in msg else [])
        field = ".".join(parts)
        raise InvalidInput(msg, field=field) from None
    return config


def current(conn) -> tuple[int, dict]:
    """(version, config) of the method in force; the first call stores evaluation.yml as version 1."""
    row = conn.execute("SELECT version, config FROM evaluation_method ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('evaluation_method'))")
        row = conn.execute("SELECT version, config FROM evaluation_method ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        cfg = validate(dict(load_config()))
        from psycopg.types.json import Jsonb
        row = conn.execute("INSERT INTO evaluation_method (config, note) VALUES (%s, 'evaluation.yml') RETURNING version, config",
                           [Jsonb(cfg)]).fetchone()
    return row["version"], row["config"]


def count_score(n: int, rule: dict, peers: list[int]) -> float:
    if rule["method"] == "bands_min":
        return next(float(b["score"]) for b in rule["bands"] if n >= b["min"])
    if rule["method"] == "bands":
        return next(float(b["score"]) for b in rule["bands"] if b["max"] is None or n <= b["max"])
    lo, hi = (min(peers), max(peers)) if peers else (0, 0)
    return 100.0 if hi == lo else 100.0 * (hi - n) / (hi - lo)


def _full(r):   # a rate as a 0–100 score; no denominator → nothing to blame, full marks
    return 100.0 if r is None else 100.0 * r


def _grade(score: float, cfg: dict) -> str:
    return next((b["grade"] for b in cfg["grades"] if score >= b["min"]), cfg["grades"][-1]["grade"])


def score(kind: str, rows: list[dict], cfg: dict) -> list[dict]:
    """Rates, 综合指标值 and grade on rows of counts (one kind). Areas, departments and officers use
    the area-evaluation process's own scoring, so both give the same numbers."""
    if kind in AREA_KINDS or kind in ("department", "officer"):
        return score_rows(kind, rows, cfg)
    sec = cfg[kind]
    w = sec["weights"]
    if kind == "intake_operator":
        peers = [r["accepted"] for r in rows]
        for r in rows:
            r["accepted_score"] = count_score(r["accepted"], sec["accepted_score"], peers)
            r["on_time_verify_dispatch_rate"] = rate(r["verify_sent_on_time"], r["verify_sent"])
            r["on_time_check_dispatch_rate"] = rate(r["check_sent_on_time"], r["check_sent"])
            r["score"] = (w["accepted_score"] * r["accepted_score"]
                          + w["on_time_verify_dispatch_rate"] * _full(r["on_time_verify_dispatch_rate"])
                          + w["on_time_check_dispatch_rate"] * _full(r["on_time_check_dispatch_rate"]))
    elif kind == "shift_leader":
        for r in rows:
            r["on_time_file_rate"] = rate(r["filed_on_time"], r["filed"])
            r["accurate_file_rate"] = rate(r["filed"] - r["cancelled"], r["filed"])
            r["on_time_close_rate"] = rate(r["closed_on_time"], r["closed"])
            r["score"] = (w["on_time_file_rate"] * _full(r["on_time_file_rate"])
                          + w["accurate_file_rate"] * _full(r["accurate_file_rate"])
                          + w["on_time_close_rate"] * _full(r["on_time_close_rate"]))
    elif kind == "dispatcher":
        peers = [r["dispatched"] for r in rows]
        for r in rows:
            r["dispatched_score"] = count_score(r["dispatched"], sec["dispatched_score"], peers)
            r["on_time_dispatch_rate"] = rate(r["dispatched_on_time"], r["dispatched"])
            r["accurate_dispatch_rate"] = rate(r["dispatched"] - r["misdispatched"], r["dispatched"])
            r["score"] = (w["dispatched_score"] * r["dispatched_score"]
                          + w["on_time_dispatch_rate"] * _full(r["on_time_dispatch_rate"])
                          + w["accurate_dispatch_rate"] * _full(r["accurate_dispatch_rate"]))
    else:
        raise ValueError(f"unknown entity kind {kind}")
    for r in rows:
        r["score"] = round(r["score"], 2)
        r["grade"] = _grade(r["score"], cfg)
        for k, v in list(r.items()):
            if k.endswith("_rate") and v is not None:
                r[k] = round(v, 4)
    return rows


def section(kind: str) -> str:
    """The method section of an entity kind (the three area kinds share `area`)."""
    return "area" if kind in AREA_KINDS else kind


def labels(cfg: dict, kind: str) -> dict[str, str]:
    # names are display, not method: evaluation.yml's, under those the version carried
    base = {**(cfg.get("labels") or {}), **load_config()["labels"]}
    base.update({k: v for (kd, k), v in KIND_LABELS.items() if kd == kind})
    return base
