"""`civicgrid basemap …`: build the offline imagery basemap (影像底图) ahead of the first page view."""
from __future__ import annotations

import time

import click

from civicgrid.errors import NotFound


@click.group()
def basemap():
    """The offline basemap: the synthetic imagery PMTiles archive drawn from the loaded town."""


@basemap.command("build")
@click.option("--force", is_flag=True, help="draw it again even when the archive for this town exists")
def build(force):
    """Draw the imagery of the loaded town into CIVICGRID_DATA_DIR/basemap/ (GeoTIFF + PMTiles)."""
    from civicgrid.web.imagery import ensure

    started = time.perf_counter()
    try:
        path = ensure(force=force)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    click.echo(f"imagery: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)")
