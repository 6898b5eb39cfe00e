"""Hot standby drill: a streaming standby of a private cluster follows it, answers reads, refuses
writes; the primary is killed with SIGKILL under writes, the standby is promoted and takes writes,
and the rows acknowledged before the kill are counted on it."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import psycopg
import pytest
from databases import make_reachable

from civicgrid.db import replica as rep
from civicgrid.db.cluster import Cluster
from civicgrid.errors import SetupError
from civicgrid.settings import Settings
from civicgrid.testing import free_port


def test_standby_follows_and_is_promoted_after_the_primary_is_killed():
    base = Path(tempfile.mkdtemp(prefix="civicgrid-test-replica-"))
    make_reachable(base)
    settings = Settings(database_url=None, data_dir=base, pg_port=free_port())
    primary = Cluster.from_settings(settings)
    port = free_port()
    try:
        primary.start()
        with psycopg.connect(primary.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE drill (id bigint PRIMARY KEY, at timestamptz DEFAULT now())")
        standby = rep.start(settings, port)
        with psycopg.connect(standby.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO drill (id) VALUES (0)")
        assert rep.status(settings, port)["senders"][0]["state"] == "streaming"

        acked = 0
        with psycopg.connect(primary.dsn, autocommit=True) as conn:
            for i in range(1, 501):   # each INSERT is acknowledged when it returns
                conn.execute("INSERT INTO drill (id) VALUES (%s)", [i])
                acked = i
        os.kill(int((primary.pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)

        promoted = rep.promote(settings, port)
        with psycopg.connect(promoted.dsn, autocommit=True) as conn:
            have = conn.execute("SELECT count(*) FROM drill").fetchone()[0]
            conn.execute("INSERT INTO drill (id) VALUES (100000)")   # a primary now
        lost = acked - have
        print(f"replica drill: {acked} acknowledged on the primary, {have} on the promoted standby, {lost} lost "
              "(asynchronous replication)")
        assert 0 <= lost <= acked and have > 0
    finally:
        for cluster in (rep.standby(settings, port), primary):
            with contextlib.suppress(SetupError):   # a killed primary leaves nothing to stop
                cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
