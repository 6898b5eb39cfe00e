"""Backups (数据备份): the records and who reads them; the drills — a logical backup of the demo town
restored into a fresh cluster on another data directory (same counts, logins, keys, row security,
photos), and pgBackRest on a private cluster (full and incremental, verification in a scratch
cluster, a point-in-time restore)."""
from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from databases import make_reachable

from civicgrid.db import backup as bk
from civicgrid.db import connect
from civicgrid.db.cluster import Cluster
from civicgrid.security.identity import create_key
from civicgrid.security.testing import make_user
from civicgrid.settings import Settings
from civicgrid.testing import app_client, free_port

PASSWORD = "restore-me-please"


def test_backup_records_are_read_by_admins_evaluators_and_leaders_only(demo_copy):
    with connect(demo_copy) as conn:
        conn.execute("INSERT INTO backup_record (kind, method, label, started_at, finished_at, ok) "
                     "VALUES ('logical', 'pg_dump', 't1', now(), now(), true)")
        who = {role: make_user(conn, f"bk_{role}", [role]) for role in
               ("admin", "evaluator", "leader", "dispatcher", "gis_editor")}
        conn.commit()
        seen = {}
        for role, principal in who.items():
            with conn.transaction():
                conn.execute("SELECT security_enter(%s)", [principal.user_id])
                seen[role] = conn.execute("SELECT count(*) AS n FROM backup_record").fetchone()["n"]
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute("DELETE FROM backup_record")
    assert seen == {"admin": 1, "evaluator": 1, "leader": 1, "dispatcher": 0, "gis_editor": 0}


@pytest.fixture
def dirs():
    """Folders the `postgres` user can reach (when we are root): not under pytest's basetemp, which
    every pytest session of the machine makes private again."""
    made = []

    def make(name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"civicgrid-test-{name}-"))
        make_reachable(path)
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def test_logical_backup_restores_into_a_fresh_cluster_with_logins_keys_and_row_security(demo_copy, dirs,
                                                                                        cluster_templates):
    source_dir = dirs("source")
    photo = source_dir / "attachments" / "ab" / ("ab" + "0" * 62)
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 a photo")
    with connect(demo_copy) as conn:
        # a smaller town: without the officers' tracks and the edit histories the dump and its two
        # restores (verification, fresh cluster) move half the bytes; every other table stays
        conn.execute("TRUNCATE officer_position, component_history, feature_history")
        make_user(conn, "restored_admin", ["admin"], password=PASSWORD)
        make_user(conn, "restored_handler", ["department_handler"], password=PASSWORD,
                  department=conn.execute("SELECT department_code FROM cases WHERE department_code IS NOT NULL "
                                          "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()["department_code"])
        key = create_key(conn, "restored_admin", ["read", "write"], 1)["token"]
        conn.commit()
    backups = source_dir / "backups"
    source = Settings(database_url=demo_copy, data_dir=source_dir, backup_dir=backups, backup_interval_hours=24)

    # the daily timer: none yet, so a backup, then its verification in a scratch cluster
    manifest, result = bk.backup_if_due(source)
    assert manifest["method"] == "pg_dump" and manifest["files"] == ["attachments"]
    assert manifest["counts"]["cases"] > 0 and set(bk.KEY_TABLES) <= set(manifest["checksums"])
    assert result["ok"], result
    assert bk.backup_if_due(source) is None   # not due again for a day
    assert result["files"] == 1
    with connect(demo_copy) as conn:
        rows = conn.execute("SELECT id, kind, ok, verifies, label FROM backup_record ORDER BY id").fetchall()
    assert [(r["kind"], r["ok"]) for r in rows] == [("logical", True), ("verify", True)]
    assert rows[1]["verifies"] == rows[0]["id"] and rows[1]["label"] == manifest["label"]

    # disaster: another machine, another data directory and port, only the backup folder kept
    fresh_dir = dirs("fresh")
    fresh = Settings(database_url=None, data_dir=fresh_dir, pg_port=free_port(), backup_dir=backups)
    cluster_templates.copy(fresh_dir, port=fresh.pg_port)   # what initdb would make, copied
    try:
        done = bk.restore(fresh)
        assert done["files"] == 1 and (fresh_dir / photo.relative_to(source_dir)).read_bytes() == photo.read_bytes()
        with psycopg.connect(fresh.dsn, autocommit=False) as conn:
            counts, checksums = bk.table_numbers(conn)
            policies = conn.execute("SELECT count(*) FROM pg_policies").fetchone()[0]
        assert counts == manifest["counts"] and checksums == manifest["checksums"]
        with psycopg.connect(demo_copy) as conn:
            assert policies == conn.execute("SELECT count(*) FROM pg_policies").fetchone()[0] > 10
            conn.execute("SELECT security_enter(id) FROM app_user WHERE username = 'restored_handler'")
            handler_sees = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        with app_client(fresh.dsn, fresh_dir) as client:
            assert client.get("/api/cases", params={"limit": 1},
                              headers={"Authorization": f"Bearer {key}"}).status_code == 200
            login = client.post("/api/auth/login", json={"username": "restored_handler", "password": PASSWORD})
            assert login.status_code == 200, login.text
            seen = client.get("/api/cases", params={"limit": 1000})
            assert seen.status_code == 200
            assert 0 < seen.json()["total"] == handler_sees < counts["cases"]
    finally:
        Cluster.from_settings(fresh).stop()


def test_pgbackrest_full_incremental_verify_and_point_in_time(dirs, cluster_templates):
    base = dirs("private")
    settings = Settings(database_url=None, data_dir=base, pg_port=free_port(), backup_interval_hours=24)
    cluster = cluster_templates.copy(base, migrated=True, port=settings.pg_port)   # initdb + migrate, copied
    bk.start_private_cluster(cluster, settings)   # what `civicgrid db start` does
    try:
        started_at = "SELECT pg_postmaster_start_time() AS t, current_setting('archive_mode') AS mode"
        with psycopg.connect(cluster.dsn) as conn:
            before = conn.execute(started_at).fetchone()
        assert before[1] == "on"
        full = bk.backup(settings)
        with psycopg.connect(cluster.dsn) as conn:
            assert conn.execute(started_at).fetchone() == before   # the first backup restarted nothing
        assert (full["kind"], full["method"]) == ("full", "pgbackrest")
        time.sleep(1.1)   # pgBackRest chooses the set by its stop time, in whole seconds
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO app_role (code, name) VALUES ('before_point', 'kept')")
            time.sleep(0.05)   # a point in time strictly between the two writes
            point = datetime.now(timezone.utc)
            time.sleep(0.05)
            conn.execute("INSERT INTO app_role (code, name) VALUES ('after_point', 'lost')")
        incremental = bk.backup(settings)
        assert incremental["kind"] == "incremental" and incremental["counts"]["app_role"] == full["counts"]["app_role"] + 2

        result = bk.verify(settings)
        assert result["ok"] and result["label"] == incremental["label"], result

        bk.restore(settings, to=point)
        with psycopg.connect(cluster.dsn) as conn:
            codes = {r[0] for r in conn.execute("SELECT code FROM app_role WHERE code LIKE '%%_point'")}
            kinds = [r[0] for r in conn.execute("SELECT kind FROM backup_record ORDER BY id")]
        assert codes == {"before_point"}
        assert kinds == ["full"]   # the incremental and its verification came after the point
        # the restored cluster archives again: the next backup works
        assert bk.backup(settings)["method"] == "pgbackrest"
    finally:
        cluster.stop()
