"""The processes' small town with the job manager, for the job tests (registered by `pytest_plugins`
in conftest.py): fixture `db` (a module's own database with the hand-checkable town of
civicgrid.processes.synthetic and six cases) and `manager(url)`, a PostgresJobManager on it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from civicgrid.db import connect
from civicgrid.processes import PROCESSES
from civicgrid.processes import synthetic as S
from civicgrid.processes.jobs import PostgresJobManager

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def db(pg_admin_url):
    from databases import drop_database, migrated_database

    url = migrated_database(pg_admin_url)
    with connect(url) as conn:
        S.build_town(conn)
        for k in range(6):
            S.add_case(conn, 470150 + 10 * k, 4440850, reported_at=datetime(2026, 3, 1, 9, tzinfo=CST))
        conn.commit()
    yield url
    drop_database(pg_admin_url, url)


def manager(url, **processor_options):
    processes = {pid: {"type": "process", "processor": {"name": dotted, **processor_options.get(pid, {})}}
                 for pid, dotted in PROCESSES.items()}
    return PostgresJobManager({"name": "civicgrid.processes.jobs.PostgresJobManager", "connection": url,
                               "processes": processes})
