"""Migrations apply and roll back; each constraint refuses impossible rows with a clear message."""
from __future__ import annotations

import psycopg
import pytest
from databases import create_database, drop_database

from civicgrid.codes import uscc_check_char
from civicgrid.db import applied_migrations, connect, migrate, rollback

TOWN = "110113104"
COMMUNITY = TOWN + "001"
DEPT = "12110113MB000000" + "1"
DEPT = DEPT + uscc_check_char(DEPT)
# a 2 km × 2 km town near Renhe, one community, two 100 m grids side by side
TOWN_WKT = "SRID=4490;MULTIPOLYGON(((116.64 40.12,116.66 40.12,116.66 40.14,116.64 40.14,116.64 40.12)))"
GRID_A = "SRID=4490;MULTIPOLYGON(((116.650 40.130,116.651 40.130,116.651 40.131,116.650 40.131,116.650 40.130)))"
GRID_B = "SRID=4490;MULTIPOLYGON(((116.651 40.130,116.652 40.130,116.652 40.131,116.651 40.131,116.651 40.130)))"


@pytest.fixture
def town(empty_db):
    with connect(empty_db) as conn:
        conn.execute("INSERT INTO town VALUES (%s, '仁和镇', %s)", [TOWN, TOWN_WKT])
        conn.execute("INSERT INTO community VALUES (%s, %s, '仁和花园社区', '社区', %s)", [COMMUNITY, TOWN, TOWN_WKT])
        conn.execute("INSERT INTO unit_grid (code, community_code, geom) VALUES (%s, %s, %s), (%s, %s, %s)",
                     [COMMUNITY + "001", COMMUNITY, GRID_A, COMMUNITY + "002", COMMUNITY, GRID_B])
        conn.execute("INSERT INTO department (code, name) VALUES (%s, '仁和镇城市管理办公室')", [DEPT])
    return empty_db


def refused(url: str, sql: str, params=None) -> str:
    """Run one statement that must fail; return PostgreSQL's message."""
    with connect(url) as conn, pytest.raises(psycopg.errors.IntegrityError) as info:
        conn.execute(sql, params)
    return str(info.value)


def component_sql(component_id="11011301001000001", type_code="01001", geom="SRID=4490;POINT(116.6505 40.1305)",
                  grid=COMMUNITY + "001", standard="GB/T 47678.5-2026"):
    return ("INSERT INTO component (id, standard, type_code, name, dept_code, dept_name, unit_grid_code, initial_date, geom) "
            "VALUES (%s, %s, %s, '供水井盖', %s, '仁和镇城市管理办公室', %s, '2026-05-01', %s)",
            [component_id, standard, type_code, DEPT, grid, geom])


def test_migrations_apply_to_empty_database_and_roll_back(pg_admin_url):
    url = create_database(pg_admin_url)
    try:
        assert migrate(url)[:2] == ["0001_foundation", "0002_code_catalogs"]
        applied = applied_migrations(url)
        assert applied[:2] == ["0001_foundation", "0002_code_catalogs"]
        with connect(url) as conn:
            counts = conn.execute("SELECT standard, kind, count(*) AS n FROM code_catalog GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        assert {(r["standard"], r["kind"]): r["n"] for r in counts} == {
            ("CJ/T 214-2007", "component"): 83, ("CJ/T 214-2007", "event"): 31,
            ("GB/T 47678.5-2026", "component"): 153, ("GB/T 47678.5-2026", "matter"): 250}
        assert migrate(url) == []  # idempotent
        rolled = rollback(url)
        assert rolled[-2:] == ["0002_code_catalogs", "0001_foundation"]
        with connect(url) as conn:
            left = conn.execute("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' "
                                "AND tablename NOT LIKE '\\_yoyo%%' AND tablename NOT LIKE 'yoyo%%' "
                                "AND tablename <> 'spatial_ref_sys'").fetchone()["n"]
        assert left == 0
        assert len(migrate(url)) >= 2  # and forward again
    finally:
        drop_database(pg_admin_url, url)


def test_town_and_community_codes(town):
    assert "community_code_check" in refused(
        town, "INSERT INTO community VALUES ('11011310400', %s, '短码', '社区', %s)", [TOWN, TOWN_WKT])
    assert "community_code_in_town" in refused(
        town, "INSERT INTO community VALUES ('110113105001', %s, '别的镇', '社区', %s)", [TOWN, TOWN_WKT])
    assert "community_kind" in refused(
        town, "INSERT INTO community VALUES ('110113104002', %s, '未知', '街道', %s)", [TOWN, TOWN_WKT])


def test_unit_grid_rules(town):
    far = "SRID=4490;MULTIPOLYGON(((116.70 40.20,116.701 40.20,116.701 40.201,116.70 40.201,116.70 40.20)))"
    assert "unit_grid_code_check" in refused(
        town, "INSERT INTO unit_grid (code, community_code, geom) VALUES ('11011310400100', %s, %s)", [COMMUNITY, GRID_A])
    assert "unit_grid_code_in_community" in refused(
        town, "INSERT INTO unit_grid (code, community_code, geom) VALUES ('110113104002003', %s, %s)", [COMMUNITY, GRID_A])
    message = refused(town, "INSERT INTO unit_grid (code, community_code, geom) VALUES (%s, %s, %s)",
                      [COMMUNITY + "003", COMMUNITY, far])
    assert "outside the town boundary" in message and COMMUNITY + "003" in message
    message = refused(town, "INSERT INTO unit_grid (code, community_code, geom) VALUES (%s, %s, %s)",
                      [COMMUNITY + "004", COMMUNITY, GRID_A])
    assert "overlaps unit grid 110113104001001" in message
    with connect(town) as conn:
        area = conn.execute("SELECT area_m2 FROM unit_grid WHERE code = %s", [COMMUNITY + "001"]).fetchone()["area_m2"]
    assert 9000 < area < 9600  # 0.001° × 0.001° at 40°N ≈ 85 m × 111 m


def test_department_needs_valid_credit_code(town):
    assert "department_code_is_uscc" in refused(
        town, "INSERT INTO department (code, name) VALUES (%s, '错码单位')", [DEPT[:-1] + ("0" if DEPT[-1] != "0" else "1")])


def test_component_rules(town):
    sql, params = component_sql()
    with connect(town) as conn:
        conn.execute(sql, params)
    # 16 digits under GB/T 47678.5
    sql, params = component_sql(component_id="1101130100100001")
    assert "component_id_length_matches_standard" in refused(town, sql, params)
    # unknown class
    sql, params = component_sql(component_id="11011301016000001", type_code="01016")
    assert "component_class_in_catalog" in refused(town, sql, params)
    # id that does not contain its class
    sql, params = component_sql(component_id="11011301002000001", type_code="01001")
    assert "component_id_contains_class" in refused(town, sql, params)
    # a guard rail (02017) must be a line
    sql, params = component_sql(component_id="11011302017000001", type_code="02017")
    assert "class needs a line geometry, got point" in refused(town, sql, params)
    # outside the town
    sql, params = component_sql(component_id="11011301001000002", geom="SRID=4490;POINT(116.70 40.20)")
    assert "outside the town boundary" in refused(town, sql, params)
    # not in the unit grid it names
    sql, params = component_sql(component_id="11011301001000003", geom="SRID=4490;POINT(116.6515 40.1305)")
    assert "does not lie in its unit grid 110113104001001" in refused(town, sql, params)
    # CJ/T 214: 16 digits, 4-digit class
    sql, params = component_sql(component_id="1101130101000001", type_code="0101", standard="CJ/T 214-2007")
    with connect(town) as conn:
        conn.execute(sql, params)
    # a refused statement leaves nothing behind
    with connect(town) as conn:
        assert conn.execute("SELECT count(*) AS n FROM component").fetchone()["n"] == 2


def test_component_history_records_every_change_with_actor(town):
    sql, params = component_sql()
    with connect(town) as conn:
        conn.execute("SELECT set_config('civicgrid.actor', 'gis-editor-1', false)")
        conn.execute(sql, params)
        conn.execute("UPDATE component SET status = '破损', version = version + 1 WHERE id = %s", [params[0]])
        conn.execute("DELETE FROM component WHERE id = %s", [params[0]])
        rows = conn.execute("SELECT operation, version, changed_by, old_row->>'status' AS old_status, "
                            "new_row->>'status' AS new_status FROM component_history ORDER BY history_id").fetchall()
    assert [(r["operation"], r["version"], r["changed_by"], r["old_status"], r["new_status"]) for r in rows] == [
        ("insert", 1, "gis-editor-1", None, "完好"),
        ("update", 2, "gis-editor-1", "完好", "破损"),
        ("delete", 2, "gis-editor-1", "破损", None),
    ]


def test_responsibility_grid_is_union_of_its_unit_grids(town):
    with connect(town) as conn:
        conn.execute("INSERT INTO officer (code, name) VALUES ('RH001', '张伟')")
        conn.execute("INSERT INTO responsibility_grid (code, community_code, name, officer_id) "
                     "VALUES (%s, %s, '第一责任网格', 1)", [COMMUNITY + "Z01", COMMUNITY])
        conn.execute("INSERT INTO responsibility_grid_member VALUES (%s, %s), (%s, %s)",
                     [COMMUNITY + "001", COMMUNITY + "Z01", COMMUNITY + "002", COMMUNITY + "Z01"])
        area = conn.execute("SELECT ST_Area(ST_Transform(geom, 4548)) AS a FROM responsibility_grid").fetchone()["a"]
        conn.execute("DELETE FROM responsibility_grid_member WHERE unit_grid_code = %s", [COMMUNITY + "002"])
        half = conn.execute("SELECT ST_Area(ST_Transform(geom, 4548)) AS a FROM responsibility_grid").fetchone()["a"]
    assert abs(area - 2 * half) < 1
    assert "responsibility_grid_code_check" in refused(
        town, "INSERT INTO responsibility_grid (code, community_code, name) VALUES ('110113104001X01', %s, 'x')", [COMMUNITY])


def test_positions_are_partitioned_by_month(town):
    with connect(town) as conn:
        conn.execute("INSERT INTO officer (code, name) VALUES ('RH001', '张伟')")
        created = conn.execute("SELECT ensure_position_partitions('2026-10-05', '2026-12-01') AS n").fetchone()["n"]
        assert created == 2
        conn.execute("INSERT INTO officer_position (officer_id, recorded_at, geom) VALUES "
                     "(1, '2026-10-31 23:59:00+08', 'SRID=4490;POINT(116.65 40.13)'), "
                     "(1, '2026-11-01 00:00:30+08', 'SRID=4490;POINT(116.65 40.13)')")
        parts = conn.execute("SELECT tableoid::regclass::text AS part FROM officer_position ORDER BY recorded_at").fetchall()
        kinds = {r["indexdef"].split(" USING ")[1].split(" ")[0]
                 for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'officer_position_202611'")}
    assert [p["part"] for p in parts] == ["officer_position_202610", "officer_position_202611"]
    assert {"brin", "gist", "btree"} <= kinds


def test_case_category_must_exist(town):
    message = refused(town, "INSERT INTO cases (case_number, channel, category_kind, category_code, state, geom) "
                            "VALUES ('110113104202611240001', 'public', 'matter', '06031', 'reported', 'SRID=4490;POINT(116.65 40.13)')")
    assert "case_category_in_catalog" in message
    message = refused(town, "INSERT INTO cases (case_number, channel, category_kind, category_code, state, geom) "
                            "VALUES ('110113104202611240002', 'public', 'matter', '06001', 'reported', 'SRID=4490;POINT(116.80 40.13)')")
    assert "outside the town boundary" in message
