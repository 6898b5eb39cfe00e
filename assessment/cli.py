"""`civicgrid assessment …`: the daily system inspection, a month's computation and report from the shell."""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def assessment():
    """The monthly operations assessment (运维考核)."""


@assessment.command()
def inspect():
    """Check the server's own services now and record today's system checklist items."""
    from civicgrid.assessment.inspect import run_checks
    from civicgrid.settings import get_settings

    for row in run_checks(get_settings()):
        click.echo(f"{row['item_code']:<14} {'正常' if row['ok'] else '异常'}  {row['value']}")


@assessment.command()
@click.argument("month")
@click.option("--sign", is_flag=True, help="sign the month off after computing it (every proposal decided)")
def compute(month, sign):
    """Propose events from the records and compute MONTH (YYYY-MM) as a draft."""
    from civicgrid.assessment import service
    from civicgrid.db import connect
    from civicgrid.settings import get_settings

    m = service.parse_month(month)
    with connect(get_settings().dsn) as conn:
        row = service.sign(conn, m, "cli") if sign else service.compute(conn, m, "cli")
    click.echo(f"{month} revision {row['revision']} ({row['status']}): {row['total']} {row['grade']}, "
               f"{row['breaches']} breach(es), penalty {row['penalty']}; {row['consequence']}")


@assessment.command()
@click.argument("month")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx"]), default="pdf", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report(month, fmt, output):
    """Write MONTH's work report (六项记录 + 运维考核记录表) as PDF or XLSX."""
    from civicgrid.assessment import report as rep
    from civicgrid.assessment import service
    from civicgrid.db import connect
    from civicgrid.settings import get_settings

    with connect(get_settings().dsn) as conn:
        output.write_bytes(rep.build(rep.gather(conn, service.parse_month(month)), fmt))
    click.echo(f"{output}")
