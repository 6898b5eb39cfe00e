"""The pygeoapi job manager of civicgrid: jobs, their status and their results live in PostgreSQL.

Configured in pygeoapi-config.yml as `server.manager.name: civicgrid.processes.jobs.PostgresJobManager`.

- Inputs are validated before a job exists: bad parameters are a 400 naming the parameter, and a
  synchronous request that is too large is a 400 telling the client to send
  `Prefer: respond-async`. Nothing is written for a refused request.
- Synchronous jobs run in the web worker and are recorded like any other job.
- Asynchronous jobs run in their own process (`python -m civicgrid.processes.runner <job id>`,
  started in a new session), which reads the parameters from `process_job` and writes status and
  result back. A web worker that stops or restarts does not take the job with it, and any worker
  answers for any job. A runner that died without a word is noticed (its pid is gone) and its job
  marked failed.
- DELETE /jobs/{id} cancels: the runner is signalled, its running query cancelled, and the job
  and its result removed (status `dismissed` in the answer).
- Ownership (作业归属): a job belongs to the user of the request that created it
  (`process_job.owner`, from `security.principal.current_principal()`; NULL off-request or for an
  anonymous caller). The list, status, result and dismissal show a job only to its owner and to
  admins (and SYSTEM, i.e. CLI and tests); anybody else gets exactly the answer for an unknown job
  id (404), so job ids can be neither enumerated nor confirmed. Ids are random (uuid4), not uuid1
  (time and host). The route-level rule "staff only" is the access layer's (security/access.yml).
- pygeoapi runs its handlers with `loop.run_in_executor(None, …)`, which does not carry context
  variables into the worker thread: without help the manager would see SYSTEM for every request.
  `civicgrid.security.principal.ContextExecutor` (installed by the access middleware)
  runs each call in a copy of the submitting task's context, like anyio's `run_in_threadpool`.
"""
from __future__ import annotations

import base64
import contextvars
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from psycopg.types.json import Jsonb
from pygeoapi.process.base import JobNotFoundError, JobResultNotFoundError, ProcessorExecuteError
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode, RequestedResponse

from civicgrid.processes.base import CivicProcessor, ClientDisconnected, InvalidProcessInput, ProcessFailed, TimeLimitExceeded, TooManyJobs
from civicgrid.security.principal import current_principal
from civicgrid.settings import get_settings

log = logging.getLogger("civicgrid.processes.jobs")

JSON_TYPES = ("application/json", "application/geo+json")
STALE_ACCEPTED = timedelta(seconds=5)   # a job waiting this long with a slot free lost its runner
HOST = socket.gethostname()


def _db(url: str | None = None):
    from civicgrid.db import connect

    return connect(url, autocommit=True)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (finished child nobody reaped) is not alive
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


RESPONSES = ("raw", "document")


def results_document(processor: CivicProcessor, mimetype: str, outputs: Any) -> dict:
    """OGC API - Processes 1.0 results document (`results.yaml`): `{"<output id>": value}`, the value
    qualified with its media type (JSON parsed, text as it is, binary base64)."""
    output_id = next(iter(processor.outputs))
    if isinstance(outputs, (bytes, bytearray, memoryview)):
        value = {"mediaType": mimetype, "encoding": "base64", "value": base64.b64encode(bytes(outputs)).decode("ascii")}
    elif mimetype in JSON_TYPES:
        value = {"mediaType": mimetype, "value": json.loads(outputs) if isinstance(outputs, str) else outputs}
    else:
        value = {"mediaType": mimetype, "value": outputs}
    return {output_id: value}


def check_requested_outputs(processor: CivicProcessor, requested: Any) -> None:
    """`outputs` of an execute request may only name the process's outputs (each is sent by value)."""
    if requested is None:
        return
    if not isinstance(requested, dict):
        raise InvalidProcessInput("outputs must be a JSON object (output id: {transmissionMode})", field="outputs")
    unknown = sorted(set(requested) - set(processor.outputs))
    if unknown:
        raise InvalidProcessInput(f"outputs: process {processor.id} has no output '{unknown[0]}' "
                                  f"(outputs: {', '.join(processor.outputs)})", field="outputs")
    for name, spec in requested.items():
        mode = spec.get("transmissionMode", "value") if isinstance(spec, dict) else "value"
        if mode != "value":
            raise InvalidProcessInput(f"outputs.{name}.transmissionMode: only 'value' is offered", field="outputs")


def encode_result(mimetype: str, outputs: Any) -> bytes:
    if isinstance(outputs, bytes):
        return outputs
    if isinstance(outputs, str):
        return outputs.encode("utf-8")
    return json.dumps(outputs, ensure_ascii=False).encode("utf-8")


class SyncRun:
    """The handle of one synchronous run for the HTTP request that waits for it: the connection
    its queries run on, so the request can cancel them when its client goes away (`cancel`, from
    the event loop's side; psycopg's cancel request, the connection itself stays usable).

    The request puts it in `SYNC_RUN`; the worker thread running the job sees it because
    pygeoapi's executor runs every call in a copy of the request's context."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn = None
        self.gone = False

    def attach(self, conn) -> None:
        with self._lock:
            self._conn = conn
            gone = self.gone
        if gone:   # the client left before the run began: do not start it
            raise ClientGone()

    def detach(self) -> None:
        with self._lock:
            self._conn = None

    def cancel(self) -> None:
        with self._lock:
            self.gone = True
            conn = self._conn
        if conn is not None:
            conn.cancel_safe(timeout=5)


SYNC_RUN: contextvars.ContextVar[SyncRun | None] = contextvars.ContextVar("civicgrid_sync_run", default=None)


class ClientGone(Exception):
    """The client of a synchronous run disconnected before it ended."""


class LimitExceeded(Exception):
    """A job passed one of its runner's limits (time, memory): it ends `failed` with this reason."""


def _fail(meta, job_id: str, message: str) -> None:
    meta.execute("UPDATE process_job SET status = 'failed', finished = now(), updated = now(), progress = 100, "
                 "message = %s, backend_pid = NULL WHERE identifier = %s", [message[:2000], job_id])


def run_job(processor: CivicProcessor, job_id: str, data: dict, url: str | None = None,
            time_limit_s: float | None = None) -> tuple[str, Any, JobStatus]:
    """Run one job to its end, recording running → successful/failed in process_job. Its queries
    are cancelled after `time_limit_s` (a failed job; a 503 for a synchronous request)."""
    import psycopg

    from civicgrid.db import connect
    from civicgrid.errors import CivicgridError

    handle = SYNC_RUN.get()
    with _db(url) as meta:
        meta.execute("UPDATE process_job SET status = 'running', started = coalesce(started, now()), updated = now(), "
                     "progress = 10, message = 'running', runner_host = %s, runner_pid = %s "
                     "WHERE identifier = %s AND status IN ('accepted', 'running')", [HOST, os.getpid(), job_id])
        try:
            params = processor.parse(data)
            with connect(url) as conn:
                pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
                if time_limit_s:
                    conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{int(time_limit_s * 1000)}ms"])
                meta.execute("UPDATE process_job SET backend_pid = %s WHERE identifier = %s", [pid, job_id])
                if handle is not None:
                    handle.attach(conn)
                try:
                    mimetype, outputs = processor.run(params, conn)
                finally:
                    if handle is not None:
                        handle.detach()
                conn.rollback()   # processes only read
        except (ProcessorExecuteError, CivicgridError) as exc:
            _fail(meta, job_id, exc.message)
            raise
        except (psycopg.errors.QueryCanceled, ClientGone) as exc:
            if handle is not None and handle.gone:
                _fail(meta, job_id, "stopped: the client disconnected")
                raise ClientDisconnected(f"process {processor.id}: stopped, the client disconnected") from exc
            # the statement timeout, or a dismissal (then the row is gone and nothing is written)
            reason = f"stopped: the time limit of {time_limit_s:g} s passed" if time_limit_s else "stopped: query cancelled"
            _fail(meta, job_id, reason)
            raise TimeLimitExceeded(f"process {processor.id}: {reason}; narrow the request or run it asynchronously "
                                    "(Prefer: respond-async)") from exc
        except (LimitExceeded, MemoryError) as exc:
            reason = str(exc) if isinstance(exc, LimitExceeded) else "stopped: the runner's memory limit was reached"
            _fail(meta, job_id, reason)
            raise ProcessFailed(f"process {processor.id}: {reason}") from exc
        except Exception as exc:
            log.exception("job %s failed", job_id)
            _fail(meta, job_id, f"{type(exc).__name__}: {exc}")
            raise ProcessFailed(f"process {processor.id} failed: {type(exc).__name__}") from exc
        written = meta.execute(
            "UPDATE process_job SET status = 'successful', finished = now(), updated = now(), progress = 100, "
            "message = 'Job complete', mimetype = %s, result = %s, backend_pid = NULL "
            "WHERE identifier = %s AND status = 'running' RETURNING 1",
            [mimetype, encode_result(mimetype, outputs), job_id]).fetchone()
        if written is None:
            log.info("job %s was dismissed while running; result dropped", job_id)
    return mimetype, outputs, JobStatus.successful


# ---------------------------------------------------------------- the queue

# session advisory locks (class, slot): a runner holds one slot while it works; at most
# `job_concurrency` slots exist, so at most that many runners work at once on this database
SLOT_LOCK_CLASS = 0x63676A62    # 'cgjb'

CLAIM_SQL = """
UPDATE process_job SET status = 'running', started = now(), updated = now(), progress = 10, message = 'running',
       runner_host = %(host)s, runner_pid = %(pid)s
 WHERE identifier = (SELECT identifier FROM process_job WHERE status = 'accepted'
                      ORDER BY created, identifier FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING identifier, process_id, parameters"""


def take_slot(meta, slots: int) -> int | None:
    for slot in range(slots):
        if meta.execute("SELECT pg_try_advisory_lock(%s, %s) AS ok", [SLOT_LOCK_CLASS, slot]).fetchone()["ok"]:
            return slot
    return None


def release_slot(meta, slot: int) -> None:
    meta.execute("SELECT pg_advisory_unlock(%s, %s)", [SLOT_LOCK_CLASS, slot])


def claim(meta) -> dict | None:
    return meta.execute(CLAIM_SQL, {"host": HOST, "pid": os.getpid()}).fetchone()


def waiting(meta) -> int:
    return meta.execute("SELECT count(*) AS n FROM process_job WHERE status = 'accepted'").fetchone()["n"]


def busy_slots(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid = %s::oid AND objsubid = 2", [SLOT_LOCK_CLASS]).fetchone()["n"]


def _caller() -> tuple[str | None, bool]:
    """(owner to record for a new job, whether the caller sees every job).

    Admins and SYSTEM (off-request: CLI, runner, tests) see all jobs. An anonymous caller owns
    nothing: a job it could make is recorded without owner and visible to admins only."""
    principal = current_principal()
    owner = None if principal.is_system or principal.is_anonymous else principal.user
    return owner, principal.is_admin


def _visible(sees_all: bool):
    """The WHERE clause limiting rows to the caller's jobs (parameter `owner`); two fixed texts,
    so the planner uses (owner, created) for a user's own list."""
    from psycopg import sql

    return sql.SQL("true") if sees_all else sql.SQL("owner = %(owner)s")


def _jobs_sorted(iterable, /, *, key=None, reverse=False):
    """`sorted` for pygeoapi's GET /jobs, which re-sorts our page by `started`: that is None for a
    job that never started (accepted, or its runner died first), and None beside a date string was
    a TypeError, i.e. a 500 for every later listing of that user. Jobs not started yet sort as the
    newest."""
    base = key or (lambda v: v)
    return sorted(iterable, key=lambda v: (1, "") if base(v) is None else (0, base(v)), reverse=reverse)


def _fix_pygeoapi_jobs_api() -> None:
    """Two fixes to pygeoapi 0.24's jobs API (both looked up on the module at call time):

    - its DELETE /jobs/{id} returns no headers, and its Starlette adapter then fails with KeyError
      'Content-Type' (a 500 after the job was in fact deleted): give the answer its JSON type, and
      the status info the `type` ("process") Processes Part 1 requires;
    - its GET /jobs sorts by `started`, which fails on jobs not started yet (`_jobs_sorted`)."""
    import pygeoapi.api.processes as api_processes

    api_processes.sorted = _jobs_sorted      # the module's only sorted(): the jobs listing
    original = api_processes.delete_job
    if getattr(original, "civicgrid_fixed", False):
        return

    def delete_job(api, request, job_id):
        headers, status, content = original(api, request, job_id)
        if "Content-Type" not in (headers or {}):
            headers = {**(headers or {}), "Content-Type": "application/json"}
        if status == 200 and isinstance(content, str) and '"jobID"' in content:
            doc = json.loads(content)   # the job's status info, which Processes Part 1 types
            if isinstance(doc, dict) and "type" not in doc:
                content = json.dumps({"type": "process", **doc}, ensure_ascii=False)
        return headers, status, content

    delete_job.civicgrid_fixed = True
    api_processes.delete_job = delete_job


class PostgresJobManager(BaseManager):
    """pygeoapi process manager with the job store in civicgrid's PostgreSQL (`process_job`)."""

    def __init__(self, manager_def: dict):
        _fix_pygeoapi_jobs_api()
        super().__init__(manager_def)
        self.is_async = True
        self.supports_subscribing = False
        # `connection` may name a database; by default the one civicgrid uses (DATABASE_URL …)
        self.url = manager_def.get("connection") or None

    # -- store -----------------------------------------------------------------------------
    def _row_to_job(self, row: dict) -> dict:
        def iso(v):
            return v.isoformat() if v is not None else None

        return {"type": row["type"], "identifier": row["identifier"], "process_id": row["process_id"],
                "status": row["status"], "message": row["message"], "progress": row["progress"],
                "parameters": row["parameters"], "created": iso(row["created"]), "started": iso(row["started"]),
                "finished": iso(row["finished"]), "updated": iso(row["updated"]), "mimetype": row["mimetype"],
                "location": None}

    def _reap(self, conn, row: dict) -> dict:
        """A running job whose runner on this host is gone has failed."""
        if row["status"] in ("accepted", "running") and row["runner_host"] == HOST and row["runner_pid"] \
                and row["runner_pid"] != os.getpid() and not _pid_alive(row["runner_pid"]):
            conn.execute("UPDATE process_job SET status = 'failed', finished = now(), updated = now(), "
                         "message = 'the runner process stopped before the job finished' "
                         "WHERE identifier = %s AND status IN ('accepted', 'running')", [row["identifier"]])
            row = dict(row, status="failed", message="the runner process stopped before the job finished")
        return row

    _COLUMNS = ("identifier, process_id, type, status, message, progress, parameters, created, started, finished, "
                "updated, mimetype, runner_host, runner_pid")

    def get_jobs(self, status: JobStatus = None, limit: int | None = None, offset: int | None = None) -> dict:
        """The caller's jobs (all jobs for admins), newest first; `numberMatched` counts the caller's
        jobs whatever the page, so pygeoapi's next/prev links stay right."""
        from psycopg import sql

        owner, sees_all = _caller()
        where = sql.SQL("{} AND (%(status)s::text IS NULL OR status = %(status)s)").format(_visible(sees_all))
        args = {"owner": owner, "status": status.value if status else None, "limit": limit, "offset": offset or 0}
        with _db(self.url) as conn:
            total = conn.execute(sql.SQL("SELECT count(*) AS n FROM process_job WHERE {}").format(where), args).fetchone()["n"]
            rows = conn.execute(
                sql.SQL("SELECT {cols} FROM process_job WHERE {where} ORDER BY created DESC, identifier "
                        "LIMIT %(limit)s OFFSET %(offset)s").format(cols=sql.SQL(self._COLUMNS), where=where),
                args).fetchall()
            jobs = [self._row_to_job(self._reap(conn, r)) for r in rows]
        return {"jobs": jobs, "numberMatched": total}

    def add_job(self, job_metadata: dict) -> str:
        """Record a new job, owned by the caller (`owner` in job_metadata overrides, for callers
        that create jobs on somebody's behalf)."""
        owner = job_metadata["owner"] if "owner" in job_metadata else _caller()[0]
        with _db(self.url) as conn:
            conn.execute("INSERT INTO process_job (identifier, process_id, type, status, message, progress, parameters, "
                         "owner, response) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         [job_metadata["identifier"], job_metadata["process_id"], job_metadata.get("type", "process"),
                          job_metadata["status"], job_metadata.get("message"), job_metadata.get("progress", 0),
                          Jsonb(job_metadata.get("parameters") or {}), owner, job_metadata.get("response", "raw")])
        return job_metadata["identifier"]

    def update_job(self, job_id: str, update_dict: dict) -> bool:
        # the manager's own bookkeeping (no HTTP route reaches it), so no owner check here
        allowed = {"status", "message", "progress", "mimetype"}
        fields = {k: v for k, v in update_dict.items() if k in allowed}
        if not fields:
            return True
        from psycopg import sql

        q = sql.SQL("UPDATE process_job SET {sets}, updated = now() WHERE identifier = %(id)s").format(
            sets=sql.SQL(", ").join(sql.SQL("{} = %({})s").format(sql.Identifier(k), sql.SQL(k)) for k in fields))
        with _db(self.url) as conn:
            return conn.execute(q, {**fields, "id": job_id}).rowcount == 1

    def get_job(self, job_id: str) -> dict:
        """A job of the caller (any job for admins); somebody else's job is not found, exactly
        like an unknown id — one query either way."""
        from psycopg import sql

        owner, sees_all = _caller()
        with _db(self.url) as conn:
            row = conn.execute(sql.SQL("SELECT {cols} FROM process_job WHERE identifier = %(id)s AND {vis}").format(
                cols=sql.SQL(self._COLUMNS), vis=_visible(sees_all)), {"id": job_id, "owner": owner}).fetchone()
            if row is None:
                raise JobNotFoundError()
            if row["status"] == "accepted" and row["created"] < datetime.now(timezone.utc) - STALE_ACCEPTED \
                    and busy_slots(conn) < get_settings().job_concurrency:
                self.dispatch()   # waiting with a slot free: its runner was lost (a restart); start one
            return self._row_to_job(self._reap(conn, row))

    def get_job_result(self, job_id: str) -> tuple[str, Any]:
        from psycopg import sql

        owner, sees_all = _caller()
        with _db(self.url) as conn:
            row = conn.execute(sql.SQL("SELECT process_id, status, mimetype, result, response FROM process_job "
                                       "WHERE identifier = %(id)s AND {}")
                               .format(_visible(sees_all)), {"id": job_id, "owner": owner}).fetchone()
        if row is None:
            raise JobNotFoundError()
        if row["status"] != "successful":
            return (None,)
        if row["result"] is None:
            raise JobResultNotFoundError()
        data = bytes(row["result"])
        if row["response"] == "document":   # as the execute request asked (OGC API - Processes 1.0)
            binary = not (row["mimetype"] in JSON_TYPES or row["mimetype"].startswith("text/"))
            return "application/json", results_document(self.get_processor(row["process_id"]), row["mimetype"],
                                                        data if binary else data.decode("utf-8"))
        if row["mimetype"] == "application/json":
            return row["mimetype"], json.loads(data)
        return row["mimetype"], data

    def delete_job(self, job_id: str) -> bool:
        """Cancel (if running) and remove a job of the caller with its result; somebody else's job
        is left alone and not found, like an unknown id."""
        from psycopg import sql

        owner, sees_all = _caller()
        with _db(self.url) as conn:
            row = conn.execute(sql.SQL("DELETE FROM process_job WHERE identifier = %(id)s AND {} "
                                       "RETURNING status, runner_host, runner_pid, backend_pid").format(_visible(sees_all)),
                               {"id": job_id, "owner": owner}).fetchone()
            if row is None:
                raise JobNotFoundError()
            if row["status"] in ("accepted", "running"):
                if row["backend_pid"]:
                    conn.execute("SELECT pg_cancel_backend(%s)", [row["backend_pid"]])
                if row["runner_host"] == HOST and row["runner_pid"] and row["runner_pid"] != os.getpid() \
                        and _pid_alive(row["runner_pid"]):
                    try:
                        os.kill(row["runner_pid"], signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        return True

    # -- execution -------------------------------------------------------------------------
    def execute_process(self, process_id: str, data_dict: dict, execution_mode=None, requested_outputs=None,
                        subscriber=None, requested_response=RequestedResponse.raw.value):
        from civicgrid.db import connect

        processor = self.get_processor(process_id)
        params = processor.parse(data_dict)                      # 400 before anything is written
        check_requested_outputs(processor, requested_outputs)
        if requested_response not in RESPONSES:
            raise InvalidProcessInput(f"response must be one of {', '.join(RESPONSES)}, got {requested_response!r}",
                                      field="response")
        is_async = execution_mode == RequestedProcessExecutionMode.respond_async
        settings = get_settings()
        owner = _caller()[0]
        with connect(self.url) as conn:
            # 400: too costly, sync or not; too large for sync, go async
            processor.check_cost(params, conn, sync=not is_async)
            if is_async and owner is not None:
                queued = conn.execute("SELECT count(*) AS n FROM process_job WHERE owner = %s "
                                      "AND status IN ('accepted', 'running')", [owner]).fetchone()["n"]
                if queued >= settings.job_queue_per_user:
                    raise TooManyJobs(f"{queued} of your jobs are waiting or running, the most allowed is "
                                      f"{settings.job_queue_per_user}; wait for one to finish or dismiss one")
        job_id = str(uuid.uuid4())   # random: uuid1 would give away the time and the host
        processor.set_job_id(job_id)
        clean = params.model_dump(mode="json", exclude_none=True)
        # a synchronous job is running from the start: no queue runner may claim it
        self.add_job({"identifier": job_id, "process_id": process_id,
                      "status": (JobStatus.accepted if is_async else JobStatus.running).value,
                      "message": "Job accepted and ready for execution", "progress": 0, "parameters": clean,
                      "response": requested_response})
        if is_async:
            # the job is committed before the slots are looked at, and a runner looks at the queue
            # after letting go of its slot: either that runner or a new one takes the job
            with _db(self.url) as conn:
                if busy_slots(conn) < settings.job_concurrency:
                    self.dispatch()
            headers = {"Preference-Applied": RequestedProcessExecutionMode.respond_async.value}
            return job_id, "application/json", None, JobStatus.accepted, headers
        mimetype, outputs, status = run_job(processor, job_id, clean, self.url, settings.process_time_limit)
        if requested_response == RequestedResponse.document.value:
            outputs, mimetype = results_document(processor, mimetype, outputs), "application/json"
        headers = None if execution_mode == RequestedProcessExecutionMode.wait else {
            "Preference-Applied": RequestedProcessExecutionMode.wait.value}
        return job_id, mimetype, outputs, status, headers

    def dispatch(self) -> None:
        """Start a queue runner; it works through the waiting jobs if it gets a slot, else it
        leaves them to the runners that hold the slots."""
        env = dict(os.environ)
        if self.url:
            env["DATABASE_URL"] = self.url
        proc = subprocess.Popen([sys.executable, "-m", "civicgrid.processes.runner"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        # reap the child when it ends so it does not linger as a zombie of the web worker
        import threading

        threading.Thread(target=proc.wait, daemon=True).start()

    def __repr__(self):
        return f"<PostgresJobManager> {self.name}"
