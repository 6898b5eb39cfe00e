"""`civicgrid feeds …`: upkeep of the district feeds (layers/feeds.py)."""
from __future__ import annotations

import click


@click.group()
def feeds():
    """Feeds for incremental sync (/ogc …/changes): tombstone retention."""


@feeds.command()
@click.option("--older-than", "days", type=click.FloatRange(0, 3650), default=None,
              help="days of tombstones to keep  [default: CIVICGRID_FEED_TOMBSTONE_DAYS, 90]")
def prune(days):
    """Delete the deletions (tombstones) older than the retention; a /changes `since` before it is then a 410."""
    from civicgrid.layers.feeds import prune as run

    result = run(days=days)
    for source, removed in result["removed"].items():
        click.echo(f"{source}\t{removed}")
    click.echo(f"removed {sum(result['removed'].values())} tombstones older than {result['days']:g} days; "
               f"horizon {result['horizon']}")
