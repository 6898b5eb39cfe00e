"""`civicgrid processes …`: run a process from the command line (reports, cron) and keep the
position roll-ups.

    civicgrid processes list
    civicgrid processes run area-evaluation '{"level": "community", "format": "csv",
        "start": "2026-10-01T00:00:00+08:00", "end": "2026-11-01T00:00:00+08:00"}' -o 2026-10.csv
    civicgrid processes refresh-rollup
"""
from __future__ import annotations

import json
import sys

import click

from civicgrid.errors import InvalidInput


@click.group()
def processes():
    """OGC API processes (heatmap, cluster, hotspots, area-evaluation, patrol-coverage, track)."""


@processes.command("list")
def list_processes():
    """The processes and their inputs."""
    from civicgrid.processes import PROCESSES, REGISTRY

    for pid in PROCESSES:
        doc = REGISTRY[pid].metadata_document()
        click.echo(f"{pid:16s} {doc['title']['zh']} — inputs: {', '.join(doc['inputs'])}")


@processes.command("run")
@click.argument("process_id")
@click.argument("inputs", default="{}")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write the result here (default: stdout)")
def run(process_id, inputs, output):
    """Run PROCESS_ID with INPUTS (a JSON object) against the database, synchronously."""
    from civicgrid.db import connect
    from civicgrid.processes import PROCESSES, REGISTRY
    from civicgrid.processes.base import InvalidProcessInput

    if process_id not in PROCESSES:
        raise InvalidInput(f"no process {process_id!r} (known: {', '.join(PROCESSES)})", field="process_id")
    try:
        data = json.loads(inputs)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"inputs: not JSON: {exc}", field="inputs") from None
    processor = REGISTRY[process_id]()
    try:
        params = processor.parse(data)
        with connect() as conn:
            processor.check_cost(params, conn)   # the shell runs what a job may run, no more
            mimetype, result = processor.run(params, conn)
    except InvalidProcessInput as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    if isinstance(result, (dict, list)):
        result = json.dumps(result, ensure_ascii=False)
    blob = result if isinstance(result, bytes) else result.encode("utf-8")
    if output:
        with open(output, "wb") as fh:
            fh.write(blob)
        click.echo(f"{process_id}: {len(blob)} bytes of {mimetype} written to {output}", err=True)
    else:
        sys.stdout.buffer.write(blob)


@processes.command("refresh-rollup")
def refresh_rollup():
    """Rebuild the officer-position roll-ups (position_cell_day/month) from the raw fixes."""
    from civicgrid.db import transaction

    with transaction() as conn:
        n = conn.execute("SELECT refresh_position_rollup() AS n").fetchone()["n"]
    click.echo(f"position roll-up rebuilt: {n} day × cell rows")
