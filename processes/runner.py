"""`python -m civicgrid.processes.runner <job id>`: run one asynchronous job outside the web worker.

Started by the job manager in a session of its own; reads the job's process and parameters from
`process_job` and writes status and result back there.
"""
from __future__ import annotations

import logging
import sys

from civicgrid.processes import REGISTRY


def main(job_id: str) -> int:
    from civicgrid.db import connect
    from civicgrid.processes.jobs import run_job

    with connect(autocommit=True) as conn:
        row = conn.execute("SELECT process_id, parameters, status FROM process_job WHERE identifier = %s", [job_id]).fetchone()
    if row is None or row["status"] != "accepted":
        return 0          # dismissed before it started, or already taken
    processor = REGISTRY[row["process_id"]]()
    processor.set_job_id(job_id)
    try:
        run_job(processor, job_id, row["parameters"])
    except Exception:
        return 1          # recorded in process_job by run_job
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main(sys.argv[1]))
