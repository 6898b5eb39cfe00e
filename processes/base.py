"""One small base class for every civicgrid OGC API process.

A process declares its parameters as a pydantic model (`Params`) with bounds; the OGC process
description (inputs with their JSON schema, minOccurs) is derived from that model, so the
description and the validation can never disagree. Bad parameters raise `InvalidProcessInput`
(HTTP 400, naming the parameter and the bound); a request too large for synchronous execution
raises `TooLargeForSync` (HTTP 400 telling the client to send `Prefer: respond-async`).
"""
from __future__ import annotations

import copy
import logging
import re
from http import HTTPStatus
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from civicgrid.errors import InvalidInput

log = logging.getLogger("civicgrid.processes")

class InvalidProcessInput(ProcessorExecuteError):
    """A client's mistake in the inputs: pygeoapi answers with this status and code."""

    http_status_code = HTTPStatus.BAD_REQUEST
    ogc_exception_code = "InvalidParameterValue"

    def __init__(self, msg: str, field: str | None = None):
        super().__init__(msg, user_msg=msg)
        self.field = field


class CostLimit(InvalidInput):
    """A request whose estimated cost is above a limit: a 400 naming the input to change, with the
    estimate and the limit in the body (`measure`, `estimate`, `limit`). Raised past pygeoapi's
    own error rendering (which knows only code and description), so errors.py's one JSON shape
    carries the numbers. `http_status_code`/`ogc_exception_code` as for pygeoapi's errors."""

    code = "TooCostly"
    http_status_code = HTTPStatus.BAD_REQUEST

    def __init__(self, msg: str, *, field: str, measure: str, estimate: int, limit: int, async_limit: int | None = None):
        super().__init__(msg, field=field)
        self.measure, self.estimate, self.limit, self.async_limit = measure, estimate, limit, async_limit

    @property
    def ogc_exception_code(self) -> str:
        return self.code

    def to_json(self) -> dict:
        body = {**super().to_json(), "measure": self.measure, "estimate": self.estimate, "limit": self.limit}
        if self.async_limit is not None:
            body["async_limit"] = self.async_limit
        return body


class TooLargeForSync(CostLimit):
    """Above the synchronous limit but within the asynchronous one: send it again as a job."""

    code = "TooLargeForSynchronousExecution"


class TooCostly(CostLimit):
    """The request's estimated cost is above the process's limit, whether run now or as a job."""


class TooManyJobs(ProcessorExecuteError):
    http_status_code = HTTPStatus.TOO_MANY_REQUESTS
    ogc_exception_code = "TooManyJobs"

    def __init__(self, msg: str):
        super().__init__(msg, user_msg=msg)


class TimeLimitExceeded(ProcessorExecuteError):
    """A synchronous run passed its time limit: its query was cancelled, the worker is free again."""

    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    ogc_exception_code = "TimeLimitExceeded"

    def __init__(self, msg: str):
        super().__init__(msg, user_msg=msg)


class ClientDisconnected(ProcessorExecuteError):
    """The client of a synchronous run went away: its query was cancelled. Nobody reads the
    answer; 499 (nginx's "client closed request") keeps it out of the server-error counts."""

    http_status_code = 499
    ogc_exception_code = "ClientClosedRequest"

    def __init__(self, msg: str):
        super().__init__(msg, user_msg=msg)


class ProcessFailed(ProcessorExecuteError):
    """Our fault, not the client's: 500 with a message for the log reader."""

    http_status_code = HTTPStatus.INTERNAL_SERVER_ERROR
    ogc_exception_code = "NoApplicableCode"


class Params(BaseModel):
    """Base of process parameter models: unknown inputs are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _inline_refs(schema: Any, defs: dict) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            target = defs[schema["$ref"].rsplit("/", 1)[1]]
            merged = {**_inline_refs(copy.deepcopy(target), defs), **{k: v for k, v in schema.items() if k != "$ref"}}
            return merged
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def describe_params(model: type[BaseModel]) -> dict:
    """OGC API Processes `inputs` from a pydantic model: one input per field, schema per field."""
    full = model.model_json_schema()
    defs = full.get("$defs", {})
    required = set(full.get("required", []))
    inputs = {}
    for name, prop in full.get("properties", {}).items():
        prop = _inline_refs(prop, defs)
        title = prop.pop("title", name)
        description = prop.pop("description", "")
        inputs[name] = {
            "title": title,
            "description": description,
            "schema": prop,
            "minOccurs": 1 if name in required else 0,
            "maxOccurs": 1,
        }
    return inputs


def format_validation_error(exc: ValidationError) -> tuple[str, str | None]:
    """The first problem as one line: `cell_size: Input should be greater than or equal to 10 (got 3)`."""
    parts = []
    first_field = None
    for err in exc.errors()[:3]:
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if err.get("loc"):
            loc = ".".join(str(p) for p in err["loc"])
            field = str(err["loc"][0])
        else:
            # a rule across fields: its message starts with the field it blames
            field = re.match(r"[a-z_0-9]+", msg).group(0) if re.match(r"[a-z_0-9]+", msg) else "inputs"
            msg = msg.removeprefix(field + ": ")
            loc = field
        first_field = first_field or field
        if err.get("type") == "extra_forbidden":
            msg = "unknown input"
        value = err.get("input")
        shown = "" if err.get("type") in ("missing", "extra_forbidden") or isinstance(value, (dict, list)) else f" (got {value!r})"
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(parts), first_field


class CivicProcessor(BaseProcessor):
    """A process: `Params` (pydantic), `outputs` metadata, `run(params)` and an optional size check."""

    id: ClassVar[str]
    title: ClassVar[dict]
    description: ClassVar[dict]
    keywords: ClassVar[list[str]] = []
    version: ClassVar[str] = "1.0.0"
    Params: ClassVar[type[Params]]
    outputs: ClassVar[dict]
    example: ClassVar[dict | None] = None
    # measure → most a request may cost, sync or async (see `cost`); `rows` is what it reads
    cost_limits: ClassVar[dict[str, int]] = {}
    # measure → most a synchronous request may cost; above it (within cost_limits) it must go async
    sync_cost_limits: ClassVar[dict[str, int]] = {}
    # the input a client narrows to read fewer rows (named in the 400)
    rows_field: ClassVar[str] = "start"

    def __init__(self, processor_def: dict | None = None):
        processor_def = processor_def or {"name": f"{type(self).__module__}.{type(self).__name__}"}
        super().__init__(processor_def, self.metadata_document())
        self.job_id: str | None = None
        # limits in the process's pygeoapi config (`cost_limits`, `sync_cost_limits`: measure →
        # number; `sync_limit`: the synchronous rows) override the class defaults
        self.limits = {**self.cost_limits, **(processor_def.get("cost_limits") or {})}
        self.configured_sync = dict(processor_def.get("sync_cost_limits") or {})
        if processor_def.get("sync_limit") is not None:
            self.configured_sync["rows"] = processor_def["sync_limit"]

    @classmethod
    def metadata_document(cls) -> dict:
        doc = {
            "version": cls.version,
            "id": cls.id,
            "title": cls.title,
            "description": cls.description,
            "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
            "keywords": cls.keywords,
            "links": [],
            "inputs": describe_params(cls.Params),
            "outputs": cls.outputs,
        }
        if cls.example:
            doc["example"] = cls.example
        return doc

    def set_job_id(self, job_id: str) -> None:
        self.job_id = job_id

    # -- the three steps -------------------------------------------------------------------
    def parse(self, data: dict | None) -> Params:
        if data is not None and not isinstance(data, dict):
            raise InvalidProcessInput("inputs must be a JSON object", field="inputs")
        try:
            return self.Params.model_validate(data or {})
        except ValidationError as exc:
            message, field = format_validation_error(exc)
            raise InvalidProcessInput(message, field=field) from None

    def input_size(self, params: Params, conn) -> int | None:
        """How many rows the request would read (a cheap estimate); None when it does not matter."""
        return None

    def sync_limits_for(self, params: Params) -> dict[str, int]:
        """The synchronous limits for these parameters (a process may vary them, e.g. by method)."""
        return {**self.sync_cost_limits, **self.configured_sync}

    def cost(self, params: Params, conn) -> dict[str, tuple[int, str]]:
        """Cheap estimates of what the run would read and build, from SQL counts or the planner's
        row estimates: measure (`rows`, `cells`, `pairs` …) → (how many, the input to change to
        make it smaller). Checked against the limits before any job exists."""
        return {}

    def estimates(self, params: Params, conn) -> dict[str, tuple[int, str]]:
        out = {}
        rows = self.input_size(params, conn)
        if rows is not None:
            out["rows"] = (rows, self.rows_field)
        out.update(self.cost(params, conn))
        return out

    def check_cost(self, params: Params, conn, sync: bool = False) -> dict[str, int]:
        """TooCostly (400) above a limit; for a synchronous request TooLargeForSync (400, "run it
        async") above its synchronous limit when the asynchronous one is higher. The estimates."""
        found = self.estimates(params, conn)
        sync_limits = self.sync_limits_for(params) if sync else {}
        for measure, (estimate, field) in found.items():
            limit = self.limits.get(measure)
            if limit is not None and estimate > limit:
                raise TooCostly(f"{field}: this request would {self._verb(measure)} about {estimate:,} {measure}, more "
                                f"than the {limit:,} allowed; change {field} or narrow the area or the time window",
                                field=field, measure=measure, estimate=estimate, limit=limit)
            sync_limit = sync_limits.get(measure)
            if sync_limit is not None and estimate > sync_limit:
                raise TooLargeForSync(
                    f"{field}: this request would {self._verb(measure)} about {estimate:,} {measure}, more than the "
                    f"{sync_limit:,} allowed for synchronous execution: send it again with the header "
                    f"'Prefer: respond-async' and fetch the result from /jobs/{{jobId}}/results",
                    field=field, measure=measure, estimate=estimate, limit=sync_limit, async_limit=limit)
        return {m: e for m, (e, _) in found.items()}

    @staticmethod
    def _verb(measure: str) -> str:
        return "read" if measure == "rows" else "build"

    def run(self, params: Params, conn) -> tuple[str, Any]:
        raise NotImplementedError

    # -- pygeoapi entry point ---------------------------------------------------------------
    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        from civicgrid.db import connect

        params = self.parse(data)
        with connect() as conn:
            return self.run(params, conn)

    def __repr__(self):
        return f"<{type(self).__name__}> {self.id}"
