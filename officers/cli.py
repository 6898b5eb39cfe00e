"""`civicgrid officers …`: the geofence scan from the shell (a backfill after loading positions)."""
from __future__ import annotations

import click


@click.group()
def officers():
    """Officers in the field: geofence alerts (电子围栏告警)."""


@officers.command()
@click.option("--hours", type=click.FloatRange(0.1, 24 * 92), default=12.0, show_default=True,
              help="read fixes back this far (for officers not scanned yet or scanned longer ago)")
def scan(hours):
    """Scan the new positions for geofence alerts now, until none are left (the server's worker does
    the same on every insert); uses CIVICGRID_GEOFENCE_MINUTES and CIVICGRID_GEOFENCE_TOLERANCE_M."""
    from civicgrid.db import connect
    from civicgrid.settings import get_settings

    settings = get_settings()
    total = {"fixes": 0, "raised": 0, "ended": 0}
    with connect(settings.dsn, autocommit=True) as conn:
        while True:   # each scan reads at most a day of fixes per officer
            row = conn.execute("SELECT * FROM geofence_scan(%s, %s, now(), make_interval(secs => %s), true)",
                               [settings.geofence_minutes, settings.geofence_tolerance_m, hours * 3600]).fetchone()
            for k in total:
                total[k] += row[k]
            if row["fixes"] == 0:
                break
    click.echo(f"{total['fixes']} fix(es) scanned, {total['raised']} alert(s) raised, {total['ended']} ended")
