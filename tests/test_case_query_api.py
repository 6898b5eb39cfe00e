"""GET /api/cases filters of the case query (事件查询) and GET /api/catalog (the category tree),
over HTTP against the demo town: each filter's answer equals the same question asked in SQL."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("case-query")) as client:
        client.who = client.creds.headers("dispatcher")
        yield client


def sql_count(town, where: str, params=()) -> int:
    from civicgrid.db import connect

    with connect(town.url) as conn:
        return conn.execute(f"SELECT count(*) AS n FROM cases c WHERE {where}", params).fetchone()["n"]


def get(town, **params):
    r = town.get("/api/cases", params=params, headers=town.who)
    assert r.status_code == 200, r.text
    return r.json()


def test_each_filter_counts_what_sql_counts(town):
    from civicgrid.db import connect

    with connect(town.url) as conn:
        some = conn.execute("SELECT category_code, community_code, unit_grid_code, department_code, urgency "
                            "FROM cases WHERE department_code IS NOT NULL AND unit_grid_code IS NOT NULL "
                            "ORDER BY id LIMIT 1").fetchone()
        last = conn.execute("SELECT max(reported_at) AS t FROM cases").fetchone()["t"]
    start = (last - timedelta(days=30)).isoformat()
    checks = [
        ({"category": some["category_code"][:2]}, "c.category_code LIKE %s", [some["category_code"][:2] + "%"]),
        ({"category": some["category_code"]}, "c.category_code = %s", [some["category_code"]]),
        ({"community": some["community_code"]}, "c.community_code = %s", [some["community_code"]]),
        ({"unit_grid": some["unit_grid_code"]}, "c.unit_grid_code = %s", [some["unit_grid_code"]]),
        ({"department": some["department_code"]}, "c.department_code = %s", [some["department_code"]]),
        ({"urgency": "urgent,critical"}, "c.urgency IN ('urgent', 'critical')", []),
        ({"channel": "hotline,public"}, "c.channel IN ('hotline', 'public')", []),
        ({"state": "dispatched"}, "c.state = 'dispatched'", []),
        ({"overdue": "true"}, "NOT c.is_closed AND c.step_deadline_at < now()", []),
        ({"sla": "red,yellow"}, "case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) IN ('red', 'yellow')", []),
        ({"from": start}, "c.reported_at >= %s", [start]),
        ({"from": start, "to": last.isoformat(), "channel": "patrol", "is_closed": "false"},
         "c.reported_at >= %s AND c.reported_at < %s AND c.channel = 'patrol' AND NOT c.is_closed",
         [start, last.isoformat()]),
    ]
    for params, where, args in checks:
        expected = sql_count(town, where, args)
        doc = get(town, **params, limit=1000)
        assert doc["total"] == expected, (params, doc["total"], expected)
        assert doc["count"] == min(expected, 1000)
    assert sql_count(town, "NOT c.is_closed AND c.step_deadline_at < now()") > 0   # the demo town has overdue cases


def test_pages_and_order(town):
    first = get(town, limit=5, order="reported_at")
    second = get(town, limit=5, offset=5, order="reported_at")
    times = [c["reported_at"] for c in first["cases"] + second["cases"]]
    assert times == sorted(times) and first["total"] == second["total"] == sql_count(town, "true")
    assert not {c["id"] for c in first["cases"]} & {c["id"] for c in second["cases"]}
    newest = get(town, limit=3)["cases"]                  # default: newest id first
    assert [c["id"] for c in newest] == sorted((c["id"] for c in newest), reverse=True)


def test_dates_are_local_days(town):
    day = datetime.now().date().isoformat()
    expected = sql_count(town, "c.reported_at >= (%s::date)::timestamp AT TIME ZONE 'Asia/Shanghai'", [day])
    assert get(town, **{"from": day})["total"] == expected


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "yesterday"}, "from"), ({"from": "2026-01-01T00:00:00"}, "from"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "to"), ({"category": "1"}, "category"),
    ({"category": "01;drop"}, "category"), ({"overdue": "yes"}, "overdue"), ({"sla": "blue"}, "sla"),
    ({"order": "name"}, "order"), ({"offset": "-1"}, "offset"), ({"colour": "red"}, "colour"),
])
def test_bad_filters_are_400_naming_the_field(town, params, field):
    r = town.get("/api/cases", params=params, headers=town.who)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_catalog_tree_with_pinyin(town):
    r = town.get("/api/catalog", headers=town.who)
    assert r.status_code == 200
    tree = r.json()["tree"]
    assert [k["name"] for k in tree] == ["事项", "部件"]
    matters = tree[0]
    leaves = [leaf for major in matters["children"] for leaf in major["children"]]
    cover = next(x for x in leaves if x["code"] == "01001")
    assert cover["name"] == "供水井盖异常" and cover["pinyin"].startswith("gongshuijinggai") and cover["initials"] == "gsjgyc"
    assert matters["cases"] == sum(m["cases"] for m in matters["children"])
    assert matters["cases"] + tree[1]["cases"] == sql_count(town, "c.standard = 'GB/T 47678.5-2026'")
    assert town.get("/api/catalog").status_code in (401, 403)         # the public has no case query
