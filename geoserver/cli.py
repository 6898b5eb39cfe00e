"""`civicgrid geoserver publish|unpublish|status`: our public layers on the district's GeoServer."""
from __future__ import annotations

import click


@click.group()
def geoserver():
    """Publish the public layers to the district's GeoServer (CIVICGRID_GEOSERVER_URL)."""


def _setup():
    from civicgrid.geoserver.publish import client_from, target
    from civicgrid.settings import get_settings

    settings = get_settings()
    t = target(settings)
    return client_from(settings, t), t


def _summary(steps) -> str:
    counts = {a: sum(s.action == a for s in steps) for a in ("create", "update", "delete", "unchanged")}
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n)


@geoserver.command()
@click.option("--dry-run", is_flag=True, help="print the plan; send nothing that changes GeoServer")
def publish(dry_run):
    """Create or update the workspace, datastore, feature types, styles and layer group; idempotent."""
    from civicgrid.geoserver.publish import apply, plan_publish

    cl, t = _setup()
    steps = plan_publish(cl, t)
    changes = [s for s in steps if s.action != "unchanged"]
    if not changes:
        click.echo(f"GeoServer {cl.url} already matches: nothing to change "
                   f"(workspace {t.workspace}, {len(t.layers)} layers, layer group {t.group})")
        return
    if dry_run:
        click.echo(f"plan for {cl.url} (dry run, nothing sent): {_summary(steps)}")
        for s in steps:
            click.echo(s.line())
        return
    click.echo(f"publishing to {cl.url}:")
    apply(steps, click.echo)
    click.echo(f"done: {_summary(steps)}")


@geoserver.command()
@click.option("--dry-run", is_flag=True, help="print what would be removed; remove nothing")
def unpublish(dry_run):
    """Remove the layer group and the workspace (with its datastore, layers and styles)."""
    from civicgrid.geoserver.publish import apply, plan_unpublish

    cl, t = _setup()
    steps = plan_unpublish(cl, t)
    if not steps:
        click.echo(f"nothing to remove: GeoServer {cl.url} has no workspace {t.workspace} or layer group {t.group}")
        return
    if dry_run:
        click.echo(f"plan for {cl.url} (dry run, nothing sent):")
        for s in steps:
            click.echo(s.line())
        return
    apply(steps, click.echo)
    click.echo(f"unpublished from {cl.url}")


@geoserver.command()
def status():
    """What GeoServer holds compared with what publish would make it (exit 0; nothing is changed)."""
    from civicgrid.geoserver.publish import plan_publish, version

    cl, t = _setup()
    click.echo(f"GeoServer {version(cl)} at {cl.url}, workspace {t.workspace}, datastore {t.store}, "
               f"layer group {t.group}")
    steps = plan_publish(cl, t)
    words = {"unchanged": "ok", "create": "missing", "update": "differs", "delete": "extra"}
    for s in steps:
        click.echo(f"  {words[s.action]:<8} {s.kind:<11} {s.name}" + (f"  ({s.detail})" if s.detail else ""))
    pending = [s for s in steps if s.action != "unchanged"]
    click.echo("up to date" if not pending else f"{len(pending)} to change: civicgrid geoserver publish")
