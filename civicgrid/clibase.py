"""The click group every `civicgrid` command group uses: our errors end as one line and exit 1."""
from __future__ import annotations

import click

from civicgrid.errors import CivicgridError


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CivicgridError as exc:
            click.echo(f"civicgrid: {exc.message}", err=True)
            ctx.exit(1)
