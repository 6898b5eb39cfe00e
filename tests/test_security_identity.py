"""Identities, roles, API keys and the audit log against real PostGIS."""
from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from databases import REPO

from civicgrid.codes import uscc_check_char
from civicgrid.db import connect, migrate
from civicgrid.errors import Conflict, InvalidInput, NotFound
from civicgrid.security import identity as ident

DEPT = "12110113MB000000" + "1"
DEPT = DEPT + uscc_check_char(DEPT)
PASSWORD = "correct horse battery"
CLI = [sys.executable, "-m", "civicgrid.cli"]


@pytest.fixture
def db(empty_db):
    with connect(empty_db) as conn:
        conn.execute("INSERT INTO department (code, name) VALUES (%s, '仁和镇城市管理办公室')", [DEPT])
        conn.execute("INSERT INTO officer (code, name) VALUES ('RH001', '张伟')")
    return empty_db


def actions(conn) -> list[str]:
    return [r["action"] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]


def cli(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_migration_rolls_back_and_reapplies(db):
    from yoyo import get_backend, read_migrations

    from civicgrid.db import MIGRATIONS_DIR, _yoyo_url

    backend = get_backend(_yoyo_url(db))
    # the security migrations and everything after them (later tables reference app_user)
    ours = read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id >= "06")
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(ours))
    with connect(db) as conn:
        assert conn.execute("SELECT to_regclass('app_user') AS t, to_regclass('audit_log') AS a").fetchone() == \
            {"t": None, "a": None}
    assert migrate(db) == [m.id for m in ours]
    with connect(db) as conn:
        roles = {r["code"] for r in conn.execute("SELECT code FROM app_role")}
    from civicgrid.cases.roles import ROLES
    assert set(ROLES) <= roles  # every role the workflows name exists
    assert {"gis_editor", "evaluator"} <= roles


def test_password_is_argon2_and_verifies(db):
    with connect(db) as conn:
        ident.add_user(conn, "wang.li", ["intake_operator", "dispatcher"], password=PASSWORD)
        stored = conn.execute("SELECT password_hash FROM app_user WHERE username = 'wang.li'").fetchone()["password_hash"]
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        who = ident.verify_password(conn, "wang.li", PASSWORD, client_addr="10.0.0.5")
        assert who["roles"] == ["dispatcher", "intake_operator"]
        assert ident.verify_password(conn, "wang.li", "wrong password!") is None
        assert ident.verify_password(conn, "nobody", PASSWORD) is None
        rows = conn.execute("SELECT action, client_addr::text AS addr, detail FROM audit_log "
                            "WHERE action LIKE 'login.%%' ORDER BY id").fetchall()
        assert [r["action"] for r in rows] == ["login.success", "login.failure", "login.failure"]
        assert rows[0]["addr"] == "10.0.0.5/32" or rows[0]["addr"] == "10.0.0.5"
        assert rows[2]["detail"]["reason"] == "unknown user"
        with pytest.raises(InvalidInput) as info:
            ident.add_user(conn, "short.pw", ["leader"], password="123")
        assert info.value.field == "password"


def test_lockout_after_repeated_failures(db):
    with connect(db) as conn:
        ident.add_user(conn, "li.na", ["leader"], password=PASSWORD)
        for _ in range(ident.MAX_FAILED_LOGINS - 1):
            assert ident.verify_password(conn, "li.na", "not the password") is None
        assert conn.execute("SELECT locked_until FROM app_user").fetchone()["locked_until"] is None
        assert ident.verify_password(conn, "li.na", "not the password") is None
        locked = conn.execute("SELECT locked_until - now() AS left FROM app_user").fetchone()["left"]
        assert ident.LOCKOUT - locked < ident.LOCKOUT / 10
        # locked: even the right password is refused, and the refusal is audited as such
        assert ident.verify_password(conn, "li.na", PASSWORD) is None
        assert conn.execute("SELECT detail->>'reason' AS r FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()["r"] == "locked"
        conn.execute("UPDATE app_user SET locked_until = now() - interval '1 second'")
        assert ident.verify_password(conn, "li.na", PASSWORD)["username"] == "li.na"
        assert conn.execute("SELECT failed_logins, locked_until FROM app_user").fetchone() == \
            {"failed_logins": 0, "locked_until": None}


def test_api_keys_authenticate_only_while_valid(db):
    with connect(db) as conn:
        ident.add_user(conn, "district", ["district_platform"])  # key-only user
        assert ident.verify_password(conn, "district", "") is None
        key = ident.create_key(conn, "district", ["read", "write"], 30)
        token = key["token"]
        assert token.startswith(f"cg_{key['prefix']}_") and len(token) > 40
        stored = conn.execute("SELECT key_hash FROM api_key").fetchone()["key_hash"]
        assert token.split("_", 2)[2] not in stored and len(stored) == 64

        who = ident.authenticate_key(conn, token)
        assert who["username"] == "district" and who["roles"] == ["district_platform"]
        assert who["scopes"] == ["read", "write"]
        assert conn.execute("SELECT last_used_at FROM api_key").fetchone()["last_used_at"] is not None

        secret = token.split("_", 2)[2]
        forged = f"cg_{key['prefix']}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
        for bad in (forged, f"cg_00000000_{secret}", "", "cg_x_y", token + "' OR 1=1 --", None):
            assert ident.authenticate_key(conn, bad) is None

        expired = ident.create_key(conn, "district", ["read"], 1)
        conn.execute("UPDATE api_key SET created_at = now() - interval '3 days', expires_at = now() - interval '1 day' "
                     "WHERE prefix = %s", [expired["prefix"]])
        assert ident.authenticate_key(conn, expired["token"]) is None

        assert ident.revoke_key(conn, key["prefix"]) is True
        assert ident.authenticate_key(conn, token) is None
        assert ident.revoke_key(conn, key["prefix"]) is False
        with pytest.raises(NotFound):
            ident.revoke_key(conn, "ffffffff")
        assert {k["prefix"]: k["status"] for k in ident.list_keys(conn)} == \
            {key["prefix"]: "revoked", expired["prefix"]: "expired"}

        live = ident.create_key(conn, "district", ["read"], 5)
        ident.disable_user(conn, "district")
        assert ident.authenticate_key(conn, live["token"]) is None
        for scopes, days, field in ((["Bad Scope"], 5, "scope"), ([], 5, "scope"), (["read"], 0, "days"), (["admin"], 5, "scope")):
            with pytest.raises(InvalidInput) as info:
                ident.create_key(conn, "district", scopes, days)
            assert info.value.field == field


def test_role_bindings_are_enforced_with_clear_messages(db):
    with connect(db) as conn:
        with pytest.raises(InvalidInput) as info:
            ident.add_user(conn, "handler", ["department_handler"], password=PASSWORD)
        assert info.value.field == "department"
        assert "department_handler but no department" in info.value.message
        with pytest.raises(InvalidInput) as info:
            ident.add_user(conn, "walker", ["grid_officer"], password=PASSWORD)
        assert info.value.field == "officer"
        with pytest.raises(InvalidInput) as info:
            ident.add_user(conn, "ghost", ["system"], password=PASSWORD)
        assert info.value.field == "role"
        with pytest.raises(InvalidInput) as info:
            ident.add_user(conn, "Bad Name", ["leader"], password=PASSWORD)
        assert info.value.field == "username"
    with connect(db) as conn:  # nothing half-written by the refusals
        assert conn.execute("SELECT count(*) AS n FROM app_user").fetchone()["n"] == 0
        ident.add_user(conn, "handler", ["department_handler"], password=PASSWORD, department=DEPT)
        ident.add_user(conn, "walker", ["leader"], password=PASSWORD)
        with pytest.raises(InvalidInput) as info:
            ident.set_roles(conn, "walker", add=["grid_officer"])
        assert info.value.field == "officer"
    with connect(db) as conn:
        assert ident.set_roles(conn, "walker", add=["evaluator"], remove=["leader"]) == ["evaluator"]
        with pytest.raises(Conflict):
            ident.add_user(conn, "handler", ["leader"], password=PASSWORD)
    # the database itself refuses, whichever side changes
    with connect(db) as conn, pytest.raises(psycopg.errors.CheckViolation, match="no department"):
        conn.execute("UPDATE app_user SET department_code = NULL WHERE username = 'handler'")
    with connect(db) as conn, pytest.raises(psycopg.errors.CheckViolation, match="no officer"):
        conn.execute("INSERT INTO app_user_role SELECT id, 'grid_officer' FROM app_user WHERE username = 'walker'")


def test_audit_log_is_append_only(db):
    with connect(db) as conn:
        ident.add_user(conn, "zhao", ["leader"], password=PASSWORD)
        ident.set_roles(conn, "zhao", add=["evaluator"])
        key = ident.create_key(conn, "zhao", ["read"], 7)
        ident.revoke_key(conn, key["prefix"])
        ident.disable_user(conn, "zhao")
        ident.audit(conn, "tester", "admin", "custom.thing", "x:1", "192.168.1.9", {"n": 1})
        assert actions(conn) == ["user.add", "user.roles", "key.create", "key.revoke", "user.disable", "custom.thing"]
        assert key["token"] not in str(conn.execute("SELECT array_agg(detail::text) AS d FROM audit_log").fetchone()["d"])
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with connect(db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == 6
        grants = conn.execute("SELECT has_table_privilege('public', 'audit_log', 'UPDATE') AS u, "
                              "has_table_privilege('public', 'audit_log', 'DELETE') AS d").fetchone()
        assert grants == {"u": False, "d": False}


def test_cli_users_keys_and_one_line_errors(db):
    added = cli(db, "user", "add", "chen.hao", "--role", "shift_leader", "--role", "dispatcher")
    assert added.returncode == 0, added.stderr
    password = added.stdout.split("shown once, change it): ")[1].strip()
    with connect(db) as conn:
        assert ident.verify_password(conn, "chen.hao", password)["roles"] == ["dispatcher", "shift_leader"]

    for args, needle in ((("user", "add", "x.y.z", "--role", "sheriff"), "unknown role 'sheriff'"),
                         (("user", "add", "chen.hao", "--role", "leader"), "already exists"),
                         (("user", "add", "h2o", "--role", "department_handler"), "no department"),
                         (("key", "revoke", "deadbeef"), "no API key")):
        failed = cli(db, *args)
        assert failed.returncode == 1, failed
        assert failed.stderr.count("\n") == 1 and needle in failed.stderr and "Traceback" not in failed.stderr

    piped = cli(db, "user", "add", "handler", "--role", "department_handler", "--department", DEPT,
                "--password-stdin", stdin=PASSWORD + "\n")
    assert piped.returncode == 0 and PASSWORD not in piped.stdout
    created = cli(db, "key", "create", "chen.hao", "--scope", "read", "--days", "10")
    token = created.stdout.split("token (shown once): ")[1].strip()
    listed = cli(db, "key", "list")
    assert token[3:11] in listed.stdout and token not in listed.stdout and "active" in listed.stdout
    users = cli(db, "user", "list").stdout
    assert "chen.hao" in users and DEPT in users
    from civicgrid.security.sessions import login

    with connect(db) as conn:
        assert login(conn, "chen.hao", password, None) is not None  # an open web session
    changed = cli(db, "user", "password", "chen.hao")
    new_password = changed.stdout.split("password (shown once): ")[1].strip()
    with connect(db) as conn:
        assert ident.verify_password(conn, "chen.hao", password) is None
        assert ident.verify_password(conn, "chen.hao", new_password)["username"] == "chen.hao"
        assert conn.execute("SELECT count(*) AS n FROM app_session").fetchone()["n"] == 0  # ended by the change
    failed = cli(db, "key", "create", "chen.hao", "--scope", "cases:write")
    assert failed.returncode == 1 and "not one of read, write" in failed.stderr
    assert cli(db, "user", "disable", "chen.hao").returncode == 0
    with connect(db) as conn:
        assert ident.authenticate_key(conn, token) is None
        assert [a for a in actions(conn) if not a.startswith("login.")] == \
            ["user.add", "user.add", "key.create", "user.password", "user.disable"]


def test_demo_users_are_created_once(db):
    first = cli(db, "user", "demo")
    assert first.returncode == 0, first.stderr
    with connect(db) as conn:
        users = {u["username"]: u for u in ident.list_users(conn)}
        assignable = [r["code"] for r in conn.execute("SELECT code FROM app_role WHERE assignable")]
    assert {f"demo_{role}" for role in assignable} == set(users)
    assert users["demo_department_handler"]["department_code"] == DEPT
    line = next(l for l in first.stdout.splitlines() if l.startswith("demo_admin "))
    password = line.split()[2]
    with connect(db) as conn:
        assert ident.verify_password(conn, "demo_admin", password)["roles"] == ["admin"]
    second = cli(db, "user", "demo")
    assert second.returncode == 0 and "created" not in second.stdout
    assert second.stdout.count("exists (left alone)") == len(assignable)


def test_demo_users_on_the_demo_town(demo_copy):
    """On the loaded demo town every role gets a user, bound to a real department and officer."""
    with connect(demo_copy) as conn:
        results = ident.demo_users(conn)
        assert all(r["status"] == "created" for r in results), results
        bound = conn.execute("SELECT u.username, d.name AS dept, o.code AS officer FROM app_user u "
                             "LEFT JOIN department d ON d.code = u.department_code "
                             "LEFT JOIN officer o ON o.id = u.officer_id "
                             "WHERE u.username IN ('demo_department_handler', 'demo_grid_officer') "
                             "ORDER BY 1").fetchall()
    assert bound[0]["dept"] and bound[1]["officer"]
