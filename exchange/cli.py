"""`civicgrid exchange …`: the district delivery worker, dead letters, the state of the exchange."""
from __future__ import annotations

import json
import threading

import click


@click.group()
def exchange():
    """District exchange (多网融合): delivery worker, re-send, status."""


@exchange.command()
@click.option("--once", is_flag=True, help="deliver what is due now and exit")
def worker(once):
    """Deliver the outbox to CIVICGRID_DISTRICT_URL; safe to run beside the server and other workers."""
    from civicgrid.errors import SetupError
    from civicgrid.exchange.adapters import from_settings
    from civicgrid.exchange.outbox import drain, run_forever
    from civicgrid.settings import get_settings

    settings = get_settings()
    adapter = from_settings(settings)
    if adapter is None:
        raise SetupError("CIVICGRID_DISTRICT_URL is not set: there is nowhere to deliver to")
    if once:
        click.echo(json.dumps(drain(settings.dsn, adapter, settings)))
        return
    click.echo(f"district delivery worker ({adapter.name}) running (Ctrl-C to stop)")
    try:
        run_forever(settings, adapter, threading.Event())
    except KeyboardInterrupt:
        pass


@exchange.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--case", "case_id", type=int, help="every dead letter of this case id")
def resend(ids, case_id):
    """Put dead letters (outbox ids, or all of a case) back in the queue."""
    from civicgrid.db import connect
    from civicgrid.errors import InvalidInput
    from civicgrid.exchange.outbox import resend as run
    from civicgrid.settings import get_settings

    if not ids and case_id is None:
        raise InvalidInput("name outbox ids or --case", field="ids")
    settings = get_settings()
    with connect(settings.dsn) as conn:
        done = run(conn, ids=list(ids), case_id=case_id, actor=settings.actor_name)
    click.echo(f"re-sent {len(done)}: {' '.join(map(str, done))}")


@exchange.command()
def status():
    """Backlog, lag, retries, dead letters and the on-time rate (JSON)."""
    from civicgrid.db import connect
    from civicgrid.exchange.api import status as run
    from civicgrid.settings import get_settings

    settings = get_settings()
    with connect(settings.dsn) as conn:
        click.echo(json.dumps(run(conn, settings), ensure_ascii=False, indent=1, default=str))
