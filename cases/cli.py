"""`civicgrid cases …`: the timer worker, demo cameras, deadlines for bulk-loaded cases.
(The shipped workflows are installed by `civicgrid db migrate`.)"""
from __future__ import annotations

import click


@click.group()
def cases():
    """Cases: timers, cameras, deadlines."""


@cases.command()
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=15.0, show_default=True, help="seconds between runs")
@click.option("--once", is_flag=True, help="fire what is due now and exit")
def worker(interval, once):
    """Run the timer worker (yellow warnings, red overdue notices); safe to run beside the app."""
    from civicgrid.cases.worker import run_forever, run_once

    if once:
        click.echo(run_once())
        return
    click.echo(f"case timer worker running every {interval:g} s (Ctrl-C to stop)")
    try:
        run_forever(interval=interval)
    except KeyboardInterrupt:
        pass


@cases.command("seed-cameras")
@click.option("--count", type=click.IntRange(1, 1000), default=20, show_default=True)
def seed_cameras(count):
    """Create demo cameras (from 监控电子眼 components, else at unit-grid centroids)."""
    from civicgrid.db import transaction

    with transaction() as conn:
        n = conn.execute("SELECT cases_seed_cameras(%s) AS n", [count]).fetchone()["n"]
    click.echo(f"{n} camera(s) created")


@cases.command("backfill-deadlines")
def backfill_deadlines():
    """Compute step deadlines and timers for open cases loaded without them (e.g. the demo town)."""
    from civicgrid.cases.deadlines import backfill
    from civicgrid.db import transaction

    with transaction() as conn:
        n = backfill(conn)
    click.echo(f"{n} open case(s) got a step deadline")
