"""`python -m civicgrid.processes.runner`: work through the queue of asynchronous jobs.

Started by the job manager (in a session of its own) whenever a job is queued. A runner first
takes one of `CIVICGRID_JOB_CONCURRENCY` slots (PostgreSQL advisory locks, held by its connection:
a runner that dies frees its slot with it); without a free slot it exits at once and the runners
holding the slots take the job in turn. With a slot it claims the oldest waiting job (`FOR UPDATE
SKIP LOCKED`), runs it and claims the next, until none waits.

Limits per runner: its address space (`CIVICGRID_JOB_MEMORY_LIMIT_MB`, so a runaway job gets a
MemoryError instead of the machine's memory) and per job `CIVICGRID_JOB_TIME_LIMIT` seconds (the
statement timeout of its queries, and an alarm for the time spent in Python). A job stopped by a
limit ends `failed` with the reason; a dismissal (SIGTERM from DELETE /jobs/{id}) ends the current
job only, the runner goes on with the next.
"""
from __future__ import annotations

import logging
import math
import resource
import signal
import sys

from civicgrid.processes import REGISTRY

log = logging.getLogger("civicgrid.processes.runner")


class Dismissed(BaseException):
    """SIGTERM: the current job was dismissed (its row is already gone)."""


def _limit_memory(mb: int) -> None:
    limit = mb << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_one(job: dict, time_limit_s: float) -> None:
    from civicgrid.processes.jobs import LimitExceeded, run_job

    def on_alarm(signum, frame):
        raise LimitExceeded(f"stopped: the time limit of {time_limit_s:g} s passed")

    processor = REGISTRY[job["process_id"]]()
    processor.set_job_id(job["identifier"])
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, math.ceil(time_limit_s)))
    try:
        run_job(processor, job["identifier"], job["parameters"], time_limit_s=time_limit_s)
    except (Exception, Dismissed):
        pass              # recorded in process_job by run_job (a dismissed job's row is gone)
    finally:
        signal.alarm(0)


def main() -> int:
    from civicgrid.db import connect
    from civicgrid.processes.jobs import claim, release_slot, take_slot, waiting
    from civicgrid.settings import get_settings

    settings = get_settings()
    _limit_memory(settings.job_memory_limit_mb)

    def on_term(signum, frame):
        raise Dismissed()

    signal.signal(signal.SIGTERM, on_term)
    with connect(autocommit=True) as meta:
        while True:
            slot = take_slot(meta, settings.job_concurrency)
            if slot is None:
                return 0          # the runners holding the slots will take the waiting jobs
            try:
                while (job := claim(meta)) is not None:
                    run_one(job, settings.job_time_limit)
            finally:
                release_slot(meta, slot)
            # a job queued after our last claim but while we held the slot: its own runner found
            # no free slot and left; look once more after letting go
            if not waiting(meta):
                return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
