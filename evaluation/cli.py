"""`civicgrid evaluation …`: compute a period (a new revision), publish it, close ended periods."""
from __future__ import annotations

from datetime import datetime

import click


@click.group()
def evaluation():
    """Comprehensive evaluation (综合评价): periods, revisions, snapshots."""


@evaluation.command()
@click.argument("kind", type=click.Choice(["monthly", "quarterly", "yearly", "custom"]))
@click.argument("code")
@click.option("--start", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]), help="custom periods: first day")
@click.option("--end", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]), help="custom periods: the day after the last")
@click.option("--reason", help="why (修订原因): needed when the period has a revision already")
@click.option("--publish", is_flag=True, help="publish the new revision at once")
def compute(kind, code, start, end, reason, publish):
    """Compute KIND period CODE (2026-05, 2026-Q2, 2026 or a custom name) as a new revision."""
    from civicgrid.db import connect
    from civicgrid.evaluation import compute as comp

    def local(d: datetime | None):
        return None if d is None else (d if d.tzinfo else d.replace(tzinfo=comp.TZ))

    with connect() as conn, conn.transaction():
        p = comp.ensure_period(conn, kind, code, local(start), local(end))
        rev = comp.compute(conn, p["id"], reason)
        if publish:
            comp.publish(conn, rev["id"])
    click.echo(f"{p['name']} ({kind} {code}): revision {rev['revision']} with method version {rev['method_version']}"
               + (", published" if publish else ""))


@evaluation.command(name="close")
def close_cmd():
    """Compute the month, quarter and year that ended last, if they have no revision (the server's
    timer does the same every hour)."""
    from civicgrid.db import connect
    from civicgrid.evaluation import compute as comp

    with connect() as conn, conn.transaction():
        made = comp.close_due(conn)
    click.echo(f"{len(made)} period(s) computed")
