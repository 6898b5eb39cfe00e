"""Row-level visibility in PostgreSQL and the public redaction of cases.

Real PostGIS: the migration pair on `empty_db`, visibility on a copy of the demo town. Every
expected set is computed as the owner (who bypasses RLS) in Python, then compared with what the
same connection sees after `security_enter` switched it to `civicgrid_web`.
"""
from __future__ import annotations

import math

import psycopg
import pytest

from civicgrid.db import applied_migrations, connect, migrate, rollback
from civicgrid.security import rows
from civicgrid.security.identity import authenticate_key, create_key, disable_user, verify_password
from civicgrid.security.principal import ANONYMOUS, SYSTEM, Principal
from civicgrid.security.testing import make_user

PASSWORD = "correct-horse-battery"
# the roles that see every case: the command center (指挥中心) and the evaluator (考核员)
ALL_CASES = frozenset({"admin", "intake_operator", "shift_leader", "dispatcher", "leader", "evaluator"})
PRIVATE_COLUMNS = {"reporter_name", "reporter_phone", "reporter_officer_id", "description", "external_id",
                   "comment", "officer_id"}


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def town(demo_copy):
    """The demo town with one user per role of interest; returns (url, {name: Principal}, facts)."""
    with connect(demo_copy) as conn:
        busy = conn.execute("SELECT department_code AS code FROM cases WHERE department_code IS NOT NULL "
                            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()["code"]
        # a department no case was ever dispatched to
        idle = conn.execute(
            "SELECT d.code FROM department d WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.department_code = d.code) "
            "AND NOT EXISTS (SELECT 1 FROM case_event e WHERE e.data -> 'set' ->> 'department_code' = d.code) "
            "ORDER BY d.code LIMIT 1").fetchone()["code"]
        # a grid officer with cases in his grids, who also reported one elsewhere (a patrol across the border)
        officer = conn.execute(
            "SELECT o.id, o.code FROM officer o JOIN responsibility_grid g ON g.officer_id = o.id "
            "JOIN cases c ON c.responsibility_grid_code = g.code GROUP BY o.id ORDER BY count(*) DESC, o.id LIMIT 1").fetchone()
        conn.execute("UPDATE cases SET reporter_officer_id = %(o)s WHERE id = (SELECT min(id) FROM cases "
                     "WHERE responsibility_grid_code NOT IN (SELECT code FROM responsibility_grid WHERE officer_id = %(o)s))",
                     {"o": officer["id"]})
        spec = {
            "admin": (["admin"], {}), "leader": (["leader"], {}), "evaluator": (["evaluator"], {}),
            "handler": (["department_handler"], {"department": busy}),
            "idle_handler": (["department_handler"], {"department": idle}),
            "officer": (["grid_officer"], {"officer": officer["code"]}),
            "district": (["district_platform"], {}),
            "gone": (["leader"], {}),
        }
        who = {name: make_user(conn, f"rls_{name}", roles, password=PASSWORD, **binding)
               for name, (roles, binding) in spec.items()}
        disable_user(conn, "rls_gone")
        who["anonymous"] = ANONYMOUS
        conn.commit()
    return demo_copy, who, {"busy": busy, "idle": idle, "officer_id": officer["id"], "officer_code": officer["code"]}


def expected_cases(conn, principal: Principal) -> set[int]:
    """The visibility rules (who sees which cases and positions), evaluated in Python over the owner's rows."""
    cases = conn.execute("SELECT id, department_code, responsibility_grid_code, reporter_officer_id, channel "
                         "FROM cases").fetchall()
    roles = principal.roles
    visible = set()
    if roles & ALL_CASES:
        return {c["id"] for c in cases}
    if "department_handler" in roles:
        dept = principal.department_code
        dispatched = {r["case_id"] for r in conn.execute(
            "SELECT case_id, data -> 'set' ->> 'department_code' AS d FROM case_event "
            "WHERE data -> 'set' ? 'department_code'") if r["d"] == dept}
        visible |= {c["id"] for c in cases if c["department_code"] == dept or c["id"] in dispatched}
    if "grid_officer" in roles:
        grids = {r["code"] for r in conn.execute("SELECT code FROM responsibility_grid WHERE officer_id = %s",
                                                  [principal.officer_id])}
        visible |= {c["id"] for c in cases
                    if c["responsibility_grid_code"] in grids or c["reporter_officer_id"] == principal.officer_id}
    if "district_platform" in roles:
        visible |= {c["id"] for c in cases if c["channel"] == "district"}
    return visible


def ids(conn, sql: str, params=None) -> set[int]:
    return {next(iter(r.values())) for r in conn.execute(sql, params or [])}


# ---------------------------------------------------------------- the migration pair

def test_migration_rolls_back_and_reapplies(empty_db):
    assert "0610_row_security" in applied_migrations(empty_db)
    # the later migrations first (they may reshape the views again), so `before` is the schema 0610 left
    later = len(applied_migrations(empty_db)) - applied_migrations(empty_db).index("0610_row_security") - 1
    if later:
        rollback(empty_db, count=later)
    with connect(empty_db) as conn:
        before = conn.execute("SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS cols "
                              "FROM information_schema.columns WHERE table_name IN ('case_public', 'ogc_cases') "
                              "GROUP BY 1").fetchall()
        assert conn.execute("SELECT count(*) AS n FROM pg_policies WHERE tablename = 'cases'").fetchone()["n"] == 3
    assert rollback(empty_db, count=1) == ["0610_row_security"]
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) AS n FROM pg_policies WHERE tablename IN ('cases', 'case_event', "
                            "'case_attachment', 'case_timer', 'case_alert', 'case_duplicate', 'officer_position')"
                            ).fetchone()["n"] == 0
        assert conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'ogc_officer_latest'::regclass"
                            ).fetchone()["reloptions"] is None
        assert not conn.execute("SELECT relrowsecurity FROM pg_class WHERE oid = 'cases'::regclass").fetchone()["relrowsecurity"]
        assert conn.execute("SELECT to_regclass('public_redaction') AS t, to_regproc('security_enter') AS f").fetchone() == \
            {"t": None, "f": None}
        after = conn.execute("SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS cols "
                             "FROM information_schema.columns WHERE table_name IN ('case_public', 'ogc_cases') "
                             "GROUP BY 1").fetchall()
        assert after == before  # the public views are back as 0100/0400 made them
        # no grant of this database is left to the role (which survives while other databases use it)
        assert conn.execute("SELECT count(*) AS n FROM information_schema.role_table_grants "
                            "WHERE grantee = 'civicgrid_web'").fetchone()["n"] == 0
    assert "0610_row_security" in migrate(empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) AS n FROM pg_policies WHERE tablename = 'cases'").fetchone()["n"] == 3
        assert conn.execute("SELECT pg_has_role(current_user, 'civicgrid_web', 'MEMBER') AS m").fetchone()["m"]


def test_role_lists_match_the_access_rules(empty_db):
    """The policies name the roles of the access rules' `command_center` group: keep them equal."""
    import yaml

    from civicgrid.security.policy import RULES_PATH

    command_center = set(yaml.safe_load(RULES_PATH.read_text())["groups"]["command_center"])
    with connect(empty_db) as conn:
        got = conn.execute("SELECT cg_position_reader_roles() AS pos, cg_all_case_roles() AS cases").fetchone()
    assert set(got["pos"]) == command_center
    assert set(got["cases"]) == command_center | {"evaluator"} == ALL_CASES


# ---------------------------------------------------------------- who sees which case

def test_each_role_sees_exactly_its_cases(town):
    url, who, facts = town
    with connect(url) as conn:
        everything = ids(conn, "SELECT id FROM cases")
        public_count = conn.execute("SELECT count(*) AS n FROM case_public").fetchone()["n"]
        expected = {name: expected_cases(conn, p) for name, p in who.items() if name != "gone"}
        conn.rollback()
        sizes = {}
        for name, principal in who.items():
            if name == "gone":
                continue
            with conn.transaction():
                rows.enter(conn, principal)
                assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "civicgrid_web"
                seen = ids(conn, "SELECT id FROM cases")
                assert seen == expected[name], f"{name}: {len(seen)} seen, {len(expected[name])} expected"
                # the rows of a case follow the case
                assert ids(conn, "SELECT DISTINCT case_id FROM case_event") == seen
                # the public view is the same for everybody (owned by the owner, redacted)
                assert conn.execute("SELECT count(*) AS n FROM case_public").fetchone()["n"] == public_count
                sizes[name] = len(seen)
    # the sets mean something: not all empty, not all everything
    assert sizes["admin"] == sizes["leader"] == sizes["evaluator"] == len(everything)
    assert 0 < sizes["handler"] < len(everything)
    assert sizes["idle_handler"] == 0 and sizes["anonymous"] == 0
    assert 0 < sizes["district"] < len(everything)
    assert 0 < sizes["officer"] < len(everything)
    # the grid officer sees a case he reported outside his grids
    with connect(url) as conn:
        outside = ids(conn, "SELECT c.id FROM cases c WHERE c.reporter_officer_id = %(o)s AND (c.responsibility_grid_code "
                            "IS NULL OR c.responsibility_grid_code NOT IN (SELECT code FROM responsibility_grid "
                            "WHERE officer_id = %(o)s))",
                      {"o": facts["officer_id"]})
        assert outside
        with conn.transaction():
            rows.enter(conn, who["officer"])
            assert outside <= ids(conn, "SELECT id FROM cases")


def test_case_rows_follow_the_case(town):
    url, who, _ = town
    with connect(url) as conn:
        owner = {t: {r["case_id"] for r in conn.execute(f"SELECT case_id FROM {t}")}
                 for t in ("case_event", "case_timer", "case_alert", "case_duplicate", "case_attachment")}
        with conn.transaction():
            rows.enter(conn, who["handler"])
            seen = ids(conn, "SELECT id FROM cases")
            for table, case_ids in owner.items():
                assert ids(conn, f"SELECT case_id FROM {table}") == case_ids & seen, table


def test_handler_cannot_update_invisible_case(town):
    url, who, facts = town
    with connect(url) as conn:
        other = conn.execute("SELECT id FROM cases WHERE department_code IS DISTINCT FROM %s AND NOT EXISTS ("
                             "SELECT 1 FROM case_event e WHERE e.case_id = cases.id "
                             "AND e.data -> 'set' ->> 'department_code' = %s) LIMIT 1",
                             [facts["busy"], facts["busy"]]).fetchone()["id"]
        own = conn.execute("SELECT id FROM cases WHERE department_code = %s LIMIT 1", [facts["busy"]]).fetchone()["id"]
        before = {r["id"]: r["urge_count"] for r in conn.execute("SELECT id, urge_count FROM cases WHERE id = ANY(%s)",
                                                                  [[other, own]])}
        conn.rollback()
        with conn.transaction():
            rows.enter(conn, who["handler"])
            assert conn.execute("UPDATE cases SET urge_count = urge_count + 1 WHERE id = %s", [other]).rowcount == 0
            assert conn.execute("UPDATE cases SET urge_count = urge_count + 1 WHERE id = %s", [own]).rowcount == 1
            assert conn.execute("DELETE FROM cases WHERE id = %s", [own]).rowcount == 0  # no DELETE policy
            # an unqualified UPDATE reaches exactly the visible rows
            assert conn.execute("UPDATE cases SET urge_count = urge_count + 1").rowcount == \
                conn.execute("SELECT count(*) AS n FROM cases").fetchone()["n"]
        after = {r["id"]: r["urge_count"] for r in conn.execute("SELECT id, urge_count FROM cases WHERE id = ANY(%s)",
                                                                 [[other, own]])}
        assert after[other] == before[other] and after[own] == before[own] + 2


def test_workflow_under_row_security(town):
    """The engine and intake work as civicgrid_web: a handler's 退回 (which clears department_code)
    and a grid officer's patrol report, with their events, timers and photos."""
    from civicgrid.cases import engine, intake
    from civicgrid.cases.roles import Actor
    from civicgrid.errors import NotFound

    url, who, facts = town
    with connect(url) as conn:
        case = conn.execute("SELECT id, version FROM cases WHERE department_code = %s AND state = 'dispatched' "
                            "AND workflow = 'standard' AND NOT is_closed ORDER BY id LIMIT 1",
                            [facts["busy"]]).fetchone()
        foreign = conn.execute("SELECT id, version FROM cases WHERE department_code <> %s AND state = 'dispatched' "
                               "AND NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = cases.id "
                               "AND e.data -> 'set' ->> 'department_code' = %s) LIMIT 1",
                               [facts["busy"], facts["busy"]]).fetchone()
        grid = conn.execute("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p "
                            "FROM responsibility_grid WHERE officer_id = %s ORDER BY code LIMIT 1) g",
                            [facts["officer_id"]]).fetchone()
        conn.rollback()
        handler = Actor(who["handler"].user, "department_handler")
        with conn.transaction():
            rows.enter(conn, who["handler"])
            changed = engine.act(conn, case["id"], "return", engine.ActionIn(version=case["version"], comment="非本部门职责"),
                                 handler)
            assert changed["department_code"] is None and changed["state"] == "filed"
            with pytest.raises(NotFound):
                engine.act(conn, foreign["id"], "feedback", engine.ActionIn(version=foreign["version"], comment="x"),
                           handler)
        # intake commits by itself (cases/intake.py), so it runs in the connection's implicit transaction
        rows.enter(conn, who["officer"])
        req = intake.parse({"channel": "patrol", "category_code": "06010", "lon": grid["lon"], "lat": grid["lat"],
                            "description": "路边暴露垃圾"})
        answer = intake._intake_tx(conn, req, Actor(who["officer"].user, "grid_officer",
                                                     officer_code=facts["officer_code"]), None, "x" * 64)
        new_id = answer["id"]
        with conn.transaction():
            rows.enter(conn, who["officer"])
            assert new_id in ids(conn, "SELECT id FROM cases")
            assert ids(conn, "SELECT seq FROM case_event WHERE case_id = %s", [new_id]) == {1}
        assert conn.execute("SELECT reporter_officer_id FROM cases WHERE id = %s", [new_id]).fetchone() == \
            {"reporter_officer_id": facts["officer_id"]}
        assert conn.execute("SELECT actor FROM case_event WHERE case_id = %s AND seq = 1", [new_id]).fetchone()["actor"] \
            == who["officer"].user


# ---------------------------------------------------------------- entering, and failing closed

def test_enter_contract(town):
    url, who, _ = town
    with connect(url) as conn:
        with conn.transaction():
            rows.enter(conn, SYSTEM)  # the owner stays the owner
            assert conn.execute("SELECT current_user AS u").fetchone()["u"] != "civicgrid_web"
        with conn.transaction():
            rows.enter(conn, who["handler"])
            got = conn.execute("SELECT current_setting('civicgrid.user_id') AS uid, current_setting('civicgrid.roles') AS roles, "
                               "current_setting('civicgrid.department') AS dept, current_setting('civicgrid.officer_id') AS oid, "
                               "current_setting('civicgrid.actor') AS actor").fetchone()
            assert got == {"uid": str(who["handler"].user_id), "roles": "department_handler",
                           "dept": who["handler"].department_code, "oid": "", "actor": who["handler"].user}
            rows.enter(conn, who["handler"])  # the same user again is fine
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                rows.enter(conn, who["admin"])  # switching identity inside a transaction is not
        with conn.transaction():
            rows.enter(conn, ANONYMOUS)
            assert conn.execute("SELECT current_setting('civicgrid.roles') AS r, current_setting('civicgrid.actor') AS a"
                                ).fetchone() == {"r": "public", "a": "anonymous"}
        # after the commit the pooled connection is the owner again, with nothing left set
        assert conn.execute("SELECT current_user AS u, coalesce(current_setting('civicgrid.roles', true), '') AS r"
                            ).fetchone() == {"u": "civicgrid", "r": ""}
        assert conn.execute("SELECT count(*) AS n FROM cases").fetchone()["n"] > 0
        conn.rollback()
        conn.autocommit = True
        with pytest.raises(RuntimeError):
            rows.enter(conn, who["leader"])
        # called bare in autocommit it lasts its own statement: nothing leaks into the next one
        conn.execute("SELECT security_enter(%s)", [who["handler"].user_id])
        assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "civicgrid"


def test_disabled_or_unknown_user_cannot_enter(town):
    url, who, _ = town
    with connect(url) as conn:
        for user_id in (who["gone"].user_id, 999999):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute("SELECT security_enter(%s)", [user_id])
            assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "civicgrid"
            conn.rollback()


def test_forgetting_security_enter_sees_nothing(town):
    url, _, _ = town
    with connect(url) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE civicgrid_web")
            for table in ("cases", "case_event", "case_timer", "case_alert", "officer_position", "ogc_officer_latest"):
                assert conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] == 0, table
            assert conn.execute("UPDATE cases SET urge_count = urge_count + 1").rowcount == 0


def test_audit_log_is_append_only_and_identities_mostly_read_only(town):
    url, who, _ = town
    with connect(url) as conn:
        token = create_key(conn, "rls_district", ["write"], 30)["token"]
        conn.commit()
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                          "UPDATE app_user SET disabled = false", "DELETE FROM app_user_role",
                          "INSERT INTO app_user_role VALUES (1, 'admin')", "UPDATE api_key SET revoked_at = NULL",
                          "DELETE FROM public_redaction",
                          "DELETE FROM _yoyo_migration"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    rows.enter(conn, who["admin"])
                    conn.execute(statement)
        n = conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"]
        conn.rollback()
        with conn.transaction():
            rows.enter(conn, who["admin"])
            conn.execute("INSERT INTO audit_log (actor, action) VALUES ('rls_admin', 'test.append')")
            # the request path's identity writes still work with column grants
            assert verify_password(conn, "rls_leader", "wrong-password-123") is None
            assert verify_password(conn, "rls_leader", PASSWORD)["username"] == "rls_leader"
            assert authenticate_key(conn, token)["username"] == "rls_district"
        assert conn.execute("SELECT count(*) AS n FROM audit_log").fetchone()["n"] == n + 3
        assert conn.execute("SELECT last_used_at IS NOT NULL AS used FROM api_key").fetchone()["used"]


def test_officer_positions(town):
    url, who, facts = town
    with connect(url) as conn:
        total = conn.execute("SELECT count(*) AS n FROM officer_position").fetchone()["n"]
        own = conn.execute("SELECT count(*) AS n FROM officer_position WHERE officer_id = %s",
                           [facts["officer_id"]]).fetchone()["n"]
        assert total > own > 0
        conn.rollback()
        for name, count, latest in (("leader", total, None), ("admin", total, None), ("handler", 0, 0),
                                    ("evaluator", 0, 0), ("district", 0, 0), ("anonymous", 0, 0),
                                    ("officer", own, 1)):
            with conn.transaction():
                rows.enter(conn, who[name])
                assert conn.execute("SELECT count(*) AS n FROM officer_position").fetchone()["n"] == count, name
                n_latest = conn.execute("SELECT count(*) AS n FROM ogc_officer_latest").fetchone()["n"]
                if latest is not None:
                    assert n_latest == latest, name
                if name == "officer":
                    assert ids(conn, "SELECT DISTINCT officer_id FROM officer_position") == {facts["officer_id"]}


# ---------------------------------------------------------------- the public views

def test_public_views_never_show_private_columns(town):
    from civicgrid.layers.collections import get_collection

    url, _, _ = town
    with connect(url) as conn:
        cols = {}
        for r in conn.execute("SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns "
                              "WHERE table_name IN ('case_public', 'ogc_cases')"):
            cols.setdefault(r["t"], set()).add(r["c"])
    for view, names in cols.items():
        assert not names & PRIVATE_COLUMNS, view
    # what the readers use is still there: the OGC collection and the case tiles
    assert {c.name for c in get_collection("cases").columns} | {"id", "geom"} <= cols["ogc_cases"]
    assert {"id", "case_number", "channel", "category_code", "category_name", "urgency", "state", "is_closed",
            "sla_color", "reported_at", "geom"} <= cols["case_public"]


def _xy(conn, view: str) -> dict[int, tuple[float, float]]:
    return {r["id"]: (r["x"], r["y"]) for r in conn.execute(
        f"SELECT id, ST_X(ST_Transform(geom, 4548)) AS x, ST_Y(ST_Transform(geom, 4548)) AS y FROM {view} "
        f"WHERE geom IS NOT NULL")}


def _offsets(view_xy: dict, truth: dict) -> tuple[float, float]:
    """The largest distance (m) of a public point from the case's true location, and the largest
    distance of a public coordinate from a multiple of 100 m (EPSG:4548)."""
    assert view_xy and set(view_xy) <= set(truth)
    dist = max(math.dist(xy, truth[i]) for i, xy in view_xy.items())
    off_grid = max(abs(v - 100 * round(v / 100)) for xy in view_xy.values() for v in xy)
    return dist, off_grid


def test_public_location_rounding(town):
    url, who, _ = town
    with connect(url) as conn:
        truth = _xy(conn, "cases")
        conn.rollback()  # enter() belongs at the start of a top-level transaction, not in a savepoint
        for view in ("case_public", "ogc_cases"):  # not configured: exact for everybody
            with conn.transaction():
                rows.enter(conn, ANONYMOUS)
                assert _offsets(_xy(conn, view), truth)[0] < 0.01
        with conn.transaction():
            conn.execute("UPDATE public_redaction SET location_grid_m = 100")
        for view in ("case_public", "ogc_cases"):
            for name in ("anonymous", "district"):
                with conn.transaction():
                    rows.enter(conn, who[name])
                    seen = _xy(conn, view)
                    dist, off_grid = _offsets(seen, truth)
                    assert off_grid < 0.01 and 0 < dist <= 100 * math.sqrt(2) / 2 + 0.01, (view, name)
                    if view == "ogc_cases":
                        assert len(seen) == len(truth)
                        # nor does the street address give the exact place away
                        assert conn.execute("SELECT count(*) AS n FROM ogc_cases WHERE address IS NOT NULL"
                                            ).fetchone()["n"] == 0
            with conn.transaction():
                rows.enter(conn, who["leader"])
                assert _offsets(_xy(conn, view), truth)[0] < 0.01, view
            # the owner connection without any setting is an unknown reader: rounded (fail closed)
            assert _offsets(_xy(conn, view), truth)[1] < 0.01
            conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            with conn.transaction():
                conn.execute("UPDATE public_redaction SET location_grid_m = 5")


def test_tiles_index_scan_survives_redaction_views(town):
    """The exact branch exposes cases.geom itself, so a bbox on the public view is a GiST probe."""
    url, _, _ = town
    with connect(url) as conn:
        conn.execute("SET enable_seqscan = off")  # small demo tables: ask whether the index CAN be used
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN SELECT id FROM case_public WHERE geom && ST_MakeEnvelope(116.6, 40.1, 116.62, 40.12, 4490)"))
        assert "cases_geom_idx" in plan, plan
