"""Test session: a throwaway PostGIS cluster started once, migrated, with a small demo town.

Fixtures
- `pg`          the throwaway cluster (a `Cluster`); `pg_admin_url` its maintenance database
- `empty_db`    URL of a migrated database without data (function scope: a fresh one each test, a copy of
                a template migrated once per session: databases.migrated_database)
- `demo_url`    URL of the session's demo town (scale 0.05) — treat it as read-only
- `demo_copy`   URL of a private copy of the demo town that a test may change (fast template copy)
- `conn`        a connection to a demo copy
- `live_server` base URL of `civicgrid serve` running in a subprocess against the demo town
- plugins: `cases_client` (civicgrid.cases.fixtures), `db` with the processes' town (jobs_fixtures.py)
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from databases import REPO, ClusterTemplates, copy_demo, drop_database, make_reachable, migrated_database, serving

from civicgrid.testing import free_port

pytest_plugins = ["civicgrid.cases.fixtures", "jobs_fixtures"]

# the test servers' databases are throwaway: no daily backups of them (tests that back up say so)
os.environ.setdefault("CIVICGRID_BACKUP_INTERVAL_HOURS", "0")
DEMO_SCALE = float(os.environ.get("CIVICGRID_TEST_SCALE", "0.05"))
DEMO_SEED = 7


@pytest.fixture(scope="session")
def pg():
    """Not under pytest's basetemp: every pytest session of the machine's user shares
    /tmp/pytest-of-<user> and makes it private (0700) again, which would lock the `postgres` user
    out of a cluster another session is still running."""
    from civicgrid.db.cluster import Cluster

    given = os.environ.get("CIVICGRID_TEST_DATA_DIR")
    base = Path(given or tempfile.mkdtemp(prefix="civicgrid-test-pg-"))
    make_reachable(base)
    cluster = Cluster(data_dir=base / "data", port=free_port(), db_name="civicgrid_test", durable=False)
    cluster.start()
    yield cluster
    cluster.stop()
    if not given:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster_templates():
    """Copies of one initdb (and one migrated cluster) for tests that need a cluster of their own."""
    templates = ClusterTemplates()
    yield templates
    templates.close()


@pytest.fixture(scope="session")
def pg_admin_url(pg) -> str:
    return f"postgresql://{pg.user}@127.0.0.1:{pg.port}/postgres"


@pytest.fixture
def empty_db(pg_admin_url):
    url = migrated_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def demo_url(pg, pg_admin_url):
    """The demo town, loaded once per session into database `demo_template` (a migrated copy)."""
    from civicgrid.demo import load

    url = pg_admin_url.rsplit("/", 1)[0] + "/demo_template"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "demo_template" WITH (FORCE)')
    migrated = migrated_database(pg_admin_url)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{migrated.rsplit("/", 1)[1]}" RENAME TO "demo_template"')
    load(scale=DEMO_SCALE, seed=DEMO_SEED, url=url, progress=False)
    # point every in-process part (settings are cached) at the demo town
    os.environ["DATABASE_URL"] = url
    from civicgrid.settings import get_settings

    get_settings.cache_clear()
    return url


@pytest.fixture
def demo_copy(demo_url, pg_admin_url):
    url = copy_demo(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def conn(demo_copy):
    from civicgrid.db import connect

    with connect(demo_copy) as connection:
        yield connection


@pytest.fixture(scope="session")
def live_server(demo_url):
    with serving(demo_url) as base:
        yield base


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
