"""Backups (数据备份): the backup records and who reads them."""
from __future__ import annotations

import psycopg
import pytest

from civicgrid.db import connect
from civicgrid.security.testing import make_user


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
