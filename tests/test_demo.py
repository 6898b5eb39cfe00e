"""The demo town's invariants: geometry, codes, positions, cases and events,
determinism, `if_empty`, and the CLI."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import psycopg

from civicgrid.db import connect
from civicgrid.demo import load

TOWN = "110113104"


def q(url, query, params=None):
    with connect(url) as conn:
        return conn.execute(query, params).fetchall()


def one(url, query, params=None):
    rows = q(url, query, params)
    return next(iter(rows[0].values()))


def test_town_and_counts(demo_url):
    counts = {r["t"]: r["n"] for r in q(demo_url, """
        SELECT 'community' t, count(*) n FROM community UNION ALL SELECT 'unit_grid', count(*) FROM unit_grid
        UNION ALL SELECT 'rg', count(*) FROM responsibility_grid UNION ALL SELECT 'officer', count(*) FROM officer
        UNION ALL SELECT 'department', count(*) FROM department UNION ALL SELECT 'road', count(*) FROM demo_road""")}
    assert 18 <= counts["community"] <= 22
    assert counts["unit_grid"] >= 1000
    assert counts["rg"] == counts["officer"] == 60
    assert 28 <= counts["department"] <= 35
    assert counts["road"] > 100
    area_km2 = one(demo_url, "SELECT ST_Area(ST_Transform(geom, 4548)) / 1e6 FROM town")
    assert 40 <= area_km2 <= 44
    # irregular: far from its bounding box
    assert one(demo_url, "SELECT ST_Area(geom) / ST_Area(ST_Envelope(geom)) FROM town") < 0.9
    lon, lat = q(demo_url, "SELECT ST_X(ST_Centroid(geom)) x, ST_Y(ST_Centroid(geom)) y FROM town")[0].values()
    assert abs(lon - 116.65) < 0.02 and abs(lat - 40.13) < 0.02
    kinds = {r["kind"]: r["n"] for r in q(demo_url, "SELECT kind, count(*) n FROM community GROUP BY kind")}
    assert kinds.get("社区", 0) >= 5 and kinds.get("村", 0) >= 5


def test_unit_grids_cover_the_town_without_overlaps(demo_url):
    row = q(demo_url, """
        WITH u AS (SELECT ST_Union(geom) g, sum(area_m2) a FROM unit_grid)
        SELECT u.a AS grid_area, ST_Area(ST_Transform(t.geom, 4548)) AS town_area,
               ST_Area(ST_Transform(ST_SymDifference(u.g, t.geom), 4548)) AS diff
        FROM u, town t""")[0]
    assert abs(row["grid_area"] - row["town_area"]) < 5          # m²: sum of areas = town, so no overlaps
    assert row["diff"] < 5                                       # union = town: no gaps
    overlaps = one(demo_url, """
        SELECT count(*) FROM unit_grid a JOIN unit_grid b ON a.code < b.code AND a.geom && b.geom
        WHERE ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), 4548)) > 1""")
    assert overlaps == 0
    outside = one(demo_url, """
        SELECT count(*) FROM unit_grid g JOIN community c ON c.code = g.community_code
        WHERE ST_Area(ST_Transform(ST_Difference(g.geom, c.geom), 4548)) > 1""")
    assert outside == 0
    # core cells ≈ 1 ha, rural ones several ha or more
    sizes = q(demo_url, "SELECT percentile_cont(0.2) WITHIN GROUP (ORDER BY area_m2) p20, max(area_m2) mx FROM unit_grid")[0]
    assert 9000 <= sizes["p20"] <= 11000 and sizes["mx"] >= 80000


def test_communities_partition_the_town(demo_url):
    row = q(demo_url, """
        WITH u AS (SELECT ST_Union(geom) g, sum(ST_Area(ST_Transform(geom, 4548))) a FROM community)
        SELECT u.a - ST_Area(ST_Transform(t.geom, 4548)) AS excess,
               ST_Area(ST_Transform(ST_SymDifference(u.g, t.geom), 4548)) AS diff FROM u, town t""")[0]
    assert abs(row["excess"]) < 5 and row["diff"] < 5
    # a community is the union of its unit grids
    assert one(demo_url, """
        SELECT count(*) FROM community c
        WHERE ST_Area(ST_Transform(ST_SymDifference(c.geom, (SELECT ST_Union(g.geom) FROM unit_grid g
                                                              WHERE g.community_code = c.code)), 4548)) > 5""") == 0


def test_uscc_check_character_matches_the_database(demo_url):
    import numpy as np

    from civicgrid.demo.people import USCC_ALPHABET, make_uscc

    rng = np.random.Generator(np.random.PCG64(3))
    codes = [make_uscc(p, rng) for p in ("11", "12", "91", "54") for _ in range(10)]
    wrong = [c[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(c[17]) + 1) % 31] for c in codes]
    rows = q(demo_url, "SELECT uscc_is_valid(c) ok FROM unnest(%s::text[]) c", [codes + wrong])
    assert [r["ok"] for r in rows] == [True] * len(codes) + [False] * len(wrong)


def test_codes_well_formed(demo_url):
    for r in q(demo_url, "SELECT code, community_code FROM unit_grid"):
        assert re.fullmatch(TOWN + r"\d{6}", r["code"]) and r["code"].startswith(r["community_code"])
    for r in q(demo_url, "SELECT code, community_code FROM responsibility_grid"):
        assert re.fullmatch(r["community_code"] + r"Z\d{2}", r["code"])
    bad = q(demo_url, """
        SELECT id FROM component WHERE id !~ '^110113[0-9]{11}$' OR substr(id, 7, 5) <> type_code
        OR standard <> 'GB/T 47678.5-2026' LIMIT 5""")
    assert bad == []
    # serials per type are 1..n
    assert one(demo_url, """
        SELECT count(*) FROM (SELECT type_code, max(right(id, 6)::int) mx, count(*) n FROM component
                              GROUP BY type_code) s WHERE mx <> n""") == 0
    assert one(demo_url, "SELECT bool_and(uscc_is_valid(code)) FROM department")
    assert one(demo_url, "SELECT count(*) FROM officer WHERE code !~ '^RH[0-9]{3}$' OR phone IS NULL") == 0
    assert one(demo_url, "SELECT count(*) FROM responsibility_grid WHERE officer_id IS NULL OR geom IS NULL") == 0


def test_unit_grid_numbering_west_east_north_south(demo_url):
    rows = q(demo_url, """
        SELECT community_code, code, ST_YMax(ST_Transform(geom, 4548)) ymax, ST_XMin(ST_Transform(geom, 4548)) xmin
        FROM unit_grid ORDER BY code""")
    good = total = 0
    for a, b in zip(rows, rows[1:]):
        if a["community_code"] != b["community_code"]:
            continue
        total += 1
        same_row = abs(a["ymax"] - b["ymax"]) < 1
        good += (same_row and b["xmin"] > a["xmin"]) or (not same_row and b["ymax"] < a["ymax"])
    assert good / total >= 0.95


def test_responsibility_grids_contiguous_units_of_one_community(demo_url):
    # members of a responsibility grid belong to its community (the code says so) and form one piece
    assert one(demo_url, """
        SELECT count(*) FROM responsibility_grid_member m JOIN unit_grid g ON g.code = m.unit_grid_code
        WHERE left(m.responsibility_grid_code, 12) <> g.community_code""") == 0
    assert one(demo_url, "SELECT count(*) FROM unit_grid g LEFT JOIN responsibility_grid_member m "
                         "ON m.unit_grid_code = g.code WHERE m.unit_grid_code IS NULL") == 0
    pieces = one(demo_url, "SELECT count(*) FROM responsibility_grid WHERE ST_NumGeometries(geom) > 1")
    assert pieces <= 3


def test_components_inside_town_and_their_grid(demo_url):
    assert one(demo_url, "SELECT count(*) FROM component") > 1000
    assert one(demo_url, "SELECT count(*) FROM component c, town t WHERE NOT ST_CoveredBy(c.geom, t.geom)") == 0
    wrong = one(demo_url, """
        SELECT count(*) FROM component c
        WHERE (SELECT count(*) FROM unit_grid g WHERE ST_Contains(g.geom, ST_PointOnSurface(c.geom))) > 1
           OR NOT EXISTS (SELECT 1 FROM unit_grid g WHERE g.code = c.unit_grid_code
                          AND ST_DWithin(g.geom::geography, ST_PointOnSurface(c.geom)::geography, 1))""")
    assert wrong == 0
    kinds = {r["k"]: r["n"] for r in q(demo_url, """
        SELECT GeometryType(c.geom) k, count(*) n FROM component c GROUP BY 1""")}
    assert kinds.get("POINT") and kinds.get("LINESTRING") and kinds.get("POLYGON")
    # attributes filled and consistent
    assert one(demo_url, """
        SELECT count(*) FROM component c JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.kind, c.type_code)
        JOIN department d ON d.code = c.dept_code JOIN community m ON m.code = c.community_code
        WHERE c.name <> k.name OR c.dept_name <> d.name OR c.community_name <> m.name
           OR c.street_code <> '110113104' OR c.data_source <> '实测'""") == 0
    # covers and lamps stand by roads, trees by streets
    far = one(demo_url, """
        SELECT avg((NOT EXISTS (SELECT 1 FROM demo_road r WHERE ST_DWithin(r.geom, c.geom, 0.00025)))::int)
        FROM component c WHERE type_code IN ('01002', '01003', '01037', '04002')""")
    assert far < 0.02


def test_every_category_resolves_to_a_department(demo_url):
    missing = q(demo_url, """
        SELECT k.standard, k.kind, k.code FROM code_catalog k
        WHERE NOT EXISTS (SELECT 1 FROM department_responsibility r
                          WHERE r.standard = k.standard AND r.kind = k.kind AND r.area_prefix = %s
                            AND k.code LIKE r.category_prefix || '%%')
        LIMIT 5""", [TOWN])
    assert missing == []
    assert one(demo_url, "SELECT count(*) FROM department_responsibility WHERE length(area_prefix) = 12") >= 1


def test_positions_inside_town_and_mostly_in_own_grid(demo_url):
    assert one(demo_url, "SELECT count(*) FROM officer_position") > 10000
    assert one(demo_url, "SELECT count(*) FROM officer_position p, town t WHERE NOT ST_Intersects(p.geom, t.geom)") == 0
    per_officer = q(demo_url, """
        SELECT p.officer_id, avg(ST_Intersects(p.geom, r.geom)::int) share
        FROM officer_position p JOIN responsibility_grid r ON r.officer_id = p.officer_id GROUP BY 1""")
    assert len(per_officer) == 60
    assert sum(r["share"] for r in per_officer) / 60 >= 0.9
    assert min(r["share"] for r in per_officer) >= 0.8
    # walking pace, realistic accuracy, fixes during shifts every 30 s
    stats = q(demo_url, """
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY speed_mps) v, percentile_cont(0.5) WITHIN GROUP
               (ORDER BY accuracy_m) acc, min(extract(hour FROM recorded_at AT TIME ZONE 'Asia/Shanghai')) h0,
               max(extract(hour FROM recorded_at AT TIME ZONE 'Asia/Shanghai')) h1
        FROM officer_position""")[0]
    assert 0.8 < stats["v"] < 1.6 and 3 < stats["acc"] < 8 and stats["h0"] >= 7 and stats["h1"] <= 18


def test_case_numbers_gap_free_per_day(demo_url):
    rows = q(demo_url, """
        SELECT substr(case_number, 10, 8) AS day, count(*) n, max(right(case_number, 4)::int) mx,
               bool_and(substr(case_number, 10, 8) = to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')) same
        FROM cases GROUP BY 1""")
    assert rows and all(r["n"] == r["mx"] and r["same"] for r in rows)
    assert one(demo_url, "SELECT count(*) FROM cases WHERE left(case_number, 9) <> %s", [TOWN]) == 0


def test_cases_located_classified_and_assigned(demo_url):
    assert one(demo_url, """
        SELECT count(*) FROM cases c
        LEFT JOIN unit_grid g ON g.code = c.unit_grid_code
        LEFT JOIN responsibility_grid_member m ON m.unit_grid_code = c.unit_grid_code
        LEFT JOIN responsibility_grid r ON r.code = m.responsibility_grid_code
        WHERE g.code IS NULL OR NOT ST_DWithin(g.geom::geography, c.geom::geography, 1)
           OR c.community_code <> g.community_code OR c.responsibility_grid_code <> r.code
           OR c.officer_id <> r.officer_id OR c.workflow <> 'standard'""") == 0
    assert one(demo_url, "SELECT count(DISTINCT channel) FROM cases") == 6
    assert one(demo_url, "SELECT count(*) FROM cases WHERE channel = 'patrol' AND reporter_officer_id IS NULL") == 0
    comp = q(demo_url, """
        SELECT count(*) n, count(*) FILTER (WHERE ST_DWithin(c.geom::geography, p.geom::geography, 1)
                                           AND c.category_code = p.type_code) ok
        FROM cases c JOIN component p ON p.id = c.component_id""")[0]
    assert comp["n"] > 0 and comp["ok"] == comp["n"]
    # seasonality: summer months busier than winter months
    season = q(demo_url, """
        SELECT count(*) FILTER (WHERE extract(month FROM reported_at) IN (6, 7, 8)) summer,
               count(*) FILTER (WHERE extract(month FROM reported_at) IN (12, 1, 2)) winter FROM cases""")[0]
    assert season["summer"] > season["winter"]
    span = q(demo_url, "SELECT min(reported_at)::date a, max(reported_at)::date b FROM cases")[0]
    assert str(span["b"]) <= "2026-11-20" and (span["b"] - span["a"]).days >= 300


PROJECTED = ("state", "is_closed", "workflow", "workflow_version", "department_code", "filed_at", "dispatched_at",
             "deadline_at", "closed_at", "duplicate_of", "postpone_pending", "urge_count", "supervise_count",
             "rework_count", "self_handled", "step_started_at", "step_warn_at", "step_deadline_at", "version")


def test_case_row_equals_replay_of_events(demo_url):
    """Folding each event's data.set (the cases part's convention) rebuilds the case row."""
    import datetime as dt

    cases = {r["id"]: r for r in q(demo_url, "SELECT * FROM cases")}
    events: dict[int, list] = {}
    for e in q(demo_url, "SELECT case_id, seq, action, from_state, to_state, at, data FROM case_event ORDER BY case_id, seq"):
        events.setdefault(e["case_id"], []).append(e)
    assert set(events) == set(cases)
    bad = []
    for cid, evs in events.items():
        row: dict = {}
        for e in evs:
            for k, v in e["data"].get("set", {}).items():
                row[k] = dt.datetime.fromisoformat(v) if k.endswith("_at") and isinstance(v, str) else v
            row["state"] = e["to_state"]
            row["version"] = e["seq"]
        c = cases[cid]
        diffs = [k for k in PROJECTED if c[k] != row.get(k)]
        if (diffs or [e["seq"] for e in evs] != list(range(1, len(evs) + 1)) or evs[0]["action"] != "report"
                or c["reported_at"] != evs[0]["at"] or any(b["at"] < a["at"] for a, b in zip(evs, evs[1:]))
                or any(b["from_state"] != a["to_state"] for a, b in zip(evs, evs[1:]))
                or c["is_closed"] != (c["state"] in ("closed", "cancelled"))):
            bad.append((c["case_number"], diffs))
    assert bad == []
    states = {r["state"] for r in cases.values()}
    assert {"closed", "cancelled", "suspended"} <= states and len(states) >= 5
    # actions and roles of the cases part's standard workflow
    pairs = {(r["action"], r["actor_role"]) for r in q(demo_url, "SELECT DISTINCT action, actor_role FROM case_event")}
    assert {("dispatch", "dispatcher"), ("feedback", "department_handler"), ("check_pass", "grid_officer"),
            ("file", "shift_leader"), ("verify", "grid_officer")} <= pairs
    # dispositions on time against the deadline the dispatch set: realistic, not perfect
    ontime = one(demo_url, """
        SELECT avg((f.at <= (d.data ->> 'deadline_at')::timestamptz)::int)
        FROM case_event d JOIN LATERAL (SELECT at FROM case_event x WHERE x.case_id = d.case_id
                                        AND x.action = 'feedback' AND x.seq > d.seq ORDER BY seq LIMIT 1) f ON true
        WHERE d.action = 'dispatch'""")
    assert 0.8 <= ontime <= 0.97
    assert one(demo_url, "SELECT count(*) FROM cases WHERE state = 'closed' AND reported_at < '2026-10-01' "
                         "AND closed_at IS NULL") == 0


def test_pois_named_with_pinyin(demo_url):
    rows = q(demo_url, "SELECT name, pinyin, pinyin_initials, community_code FROM poi")
    assert len(rows) >= 50
    assert all(r["pinyin"] and re.fullmatch("[a-z]+", r["pinyin_initials"]) and r["community_code"] for r in rows)
    gov = q(demo_url, "SELECT pinyin, pinyin_initials FROM poi WHERE name = '仁和镇人民政府'")
    assert gov == [{"pinyin": "renhezhenrenminzhengfu", "pinyin_initials": "rhzrmzf"}]


def _new_db(pg_admin_url) -> str:
    from databases import migrated_database

    return migrated_database(pg_admin_url)


def _drop_db(pg_admin_url, url):
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


CHECKSUM = """
SELECT md5(string_agg(h, '' ORDER BY t)) FROM (
  SELECT 'a' t, md5(string_agg(code || name || ST_AsEWKB(geom)::text, '' ORDER BY code)) h FROM community UNION ALL
  SELECT 'b', md5(string_agg(code || ST_AsEWKB(geom)::text, '' ORDER BY code)) FROM unit_grid UNION ALL
  SELECT 'c', md5(string_agg((to_jsonb(c) - 'updated_at')::text, '' ORDER BY id)) FROM component c UNION ALL
  SELECT 'd', md5(string_agg((to_jsonb(p))::text, '' ORDER BY officer_id, recorded_at)) FROM officer_position p UNION ALL
  SELECT 'e', md5(string_agg((to_jsonb(c) - 'updated_at')::text, '' ORDER BY id)) FROM cases c UNION ALL
  SELECT 'f', md5(string_agg((to_jsonb(e) - 'id')::text, '' ORDER BY case_id, seq)) FROM case_event e UNION ALL
  SELECT 'g', md5(string_agg((to_jsonb(p) - 'updated_at')::text, '' ORDER BY id)) FROM poi p UNION ALL
  SELECT 'h', md5(string_agg(code || name, '' ORDER BY code)) FROM department UNION ALL
  SELECT 'i', md5(string_agg(code || name || coalesce(officer_id, 0), '' ORDER BY code)) FROM responsibility_grid UNION ALL
  SELECT 'j', md5(string_agg(name || class || ST_AsEWKB(geom)::text, '' ORDER BY id)) FROM demo_road) s
"""


def test_same_seed_same_town_and_reload_replaces(pg_admin_url):
    a, b = _new_db(pg_admin_url), _new_db(pg_admin_url)
    try:
        t = time.perf_counter()
        counts = load(scale=0.01, seed=11, url=a, progress=False)
        elapsed = time.perf_counter() - t
        load(scale=0.01, seed=11, url=b, progress=False)
        assert one(a, CHECKSUM) == one(b, CHECKSUM)
        assert counts["unit_grid"] > 0 and counts["cases"] > 0 and counts["officer_position"] > 0
        assert elapsed < 30, f"a small town took {elapsed:.1f} s"
        # a different seed is a different town; loading again replaces, never appends
        counts2 = load(scale=0.01, seed=12, url=b, progress=False)
        assert one(a, CHECKSUM) != one(b, CHECKSUM)
        assert one(b, "SELECT count(*) FROM cases") == counts2["cases"]
        assert one(b, "SELECT count(*) FROM town") == 1
    finally:
        _drop_db(pg_admin_url, a)
        _drop_db(pg_admin_url, b)


LIGHT_CHECKSUM = """
SELECT md5(string_agg(h, '')) FROM (
  SELECT md5(string_agg(code, '' ORDER BY code)) h FROM unit_grid UNION ALL
  SELECT md5(string_agg(case_number || state || version, '' ORDER BY id)) FROM cases UNION ALL
  SELECT count(*)::text || max(recorded_at)::text FROM officer_position UNION ALL
  SELECT count(*)::text || max(id) FROM component) s
"""


def test_if_empty_leaves_a_loaded_town_alone(demo_copy):
    before = one(demo_copy, LIGHT_CHECKSUM)
    assert load(scale=0.01, seed=99, url=demo_copy, if_empty=True, progress=False) == {}
    assert one(demo_copy, LIGHT_CHECKSUM) == before


def test_cli_demo_load(empty_db):
    env = {**os.environ, "DATABASE_URL": empty_db}
    run = subprocess.run([sys.executable, "-m", "civicgrid.cli", "demo", "load", "--scale", "0.01", "--quiet"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert re.search(r"unit_grid: [\d,]+", run.stdout) and re.search(r"cases: [\d,]+", run.stdout)
    again = subprocess.run([sys.executable, "-m", "civicgrid.cli", "demo", "load", "--if-empty", "--quiet"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "cases" not in again.stdout
    bad = subprocess.run([sys.executable, "-m", "civicgrid.cli", "demo", "load", "--scale", "9"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--scale" in bad.stderr


def test_officer_one_has_tasks_and_timelines_name_officers(demo_url):
    """The grid-officer demo user (bound to the first officer) finds 核实/核查 work in his inbox, and a
    timeline shows the officer's name where the generator signed an event with his code."""
    from civicgrid.cases.views import timeline

    first = q(demo_url, "SELECT id, code, name FROM officer WHERE active ORDER BY code LIMIT 1")[0]
    waiting = q(demo_url, "SELECT id, state FROM cases WHERE officer_id = %s AND state IN ('verifying', 'handled') "
                          "AND NOT is_closed ORDER BY id", [first["id"]])
    assert waiting
    with connect(demo_url) as conn:
        case_id = conn.execute("SELECT case_id FROM case_event WHERE actor = %s ORDER BY case_id LIMIT 1",
                               [first["code"]]).fetchone()["case_id"]
        events = [e for e in timeline(conn, case_id) if e["actor"] == first["code"]]
    assert events and all(e["actor_name"] == first["name"] for e in events)
