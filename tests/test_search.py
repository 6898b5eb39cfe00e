"""GET /api/search over HTTP on a copy of the demo town: ranking, pinyin, codes, fuzzy matches,
what each caller may find, and bad input."""
from __future__ import annotations

import pytest

from civicgrid.db import connect


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("search")) as client:
        yield client


def find(town, q, role="public", department=None, **params):
    headers = town.creds.headers(role, department=department) if department else town.creds.headers(role)
    r = town.get("/api/search", params={"q": q, **params}, headers=headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["query"] == q.strip()
    return doc["items"]


def one(url, sql, args=()):
    with connect(url) as conn:
        return conn.execute(sql, args).fetchone()


def test_pinyin_initials_find_the_town_government_first(town):
    items = find(town, "rhz")
    top = items[0]
    assert top["title"] == "仁和镇人民政府" and top["type"] == "poi" and top["collection"] == "pois"
    assert "政府机构" in top["subtitle"]
    w, s, e, n = top["bbox"]
    lon, lat = top["point"]
    assert 116 < lon < 117.5 and 39.5 < lat < 41 and w <= lon <= e and s <= lat <= n
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)


@pytest.mark.parametrize("q", ["renhezhenrenminzhengfu", "仁和镇人民政府", "镇政府", "RenHe ZhenRenmin",
                               "仁和镇人民政付", "renhezhenrenminzhengfo"])
def test_full_pinyin_alias_and_typos(town, q):
    assert find(town, q)[0]["title"] == "仁和镇人民政府"


def test_exact_before_prefix_before_fuzzy(town):
    items = find(town, "仁和中学", limit=20)
    assert items[0]["title"] == "仁和中学" and items[0]["score"] >= 3
    tiers = [int(i["score"]) for i in items]
    assert tiers == sorted(tiers, reverse=True) and min(tiers) >= 1


def test_case_number_for_staff_and_not_for_the_public(town):
    case = one(town.url, "SELECT id, case_number, department_code FROM cases WHERE department_code IS NOT NULL "
                         "ORDER BY id LIMIT 1")
    items = find(town, case["case_number"], "dispatcher")
    assert items[0]["type"] == "case" and items[0]["id"] == str(case["id"]) and items[0]["score"] >= 3
    assert items[0]["collection"] == "cases" and items[0]["point"]
    assert not [i for i in find(town, case["case_number"]) if i["type"] == "case"]
    # a department handler finds his department's cases only (row security)
    other = one(town.url, "SELECT d.code FROM department d WHERE d.code <> %s AND NOT EXISTS (SELECT 1 FROM case_event e "
                          "WHERE e.case_id = %s AND e.data -> 'set' ->> 'department_code' = d.code) ORDER BY d.code LIMIT 1",
                [case["department_code"], case["id"]])
    mine = find(town, case["case_number"], "department_handler", case["department_code"], types="case")
    assert [i["id"] for i in mine] == [str(case["id"])]
    assert find(town, case["case_number"], "department_handler", other["code"], types="case") == []


def test_component_id_exact_for_readers_only(town):
    comp = one(town.url, "SELECT id FROM component ORDER BY id DESC LIMIT 1")
    items = find(town, comp["id"], "gis_editor")
    assert items[0] == {**items[0], "type": "component", "id": comp["id"], "collection": "urban-components"}
    assert items[0]["score"] >= 3
    assert not [i for i in find(town, comp["id"]) if i["type"] == "component"]   # the public reads no components
    prefix = find(town, comp["id"][:12], "gis_editor", types="component", limit=5)
    assert len(prefix) == 5 and all(i["id"].startswith(comp["id"][:12]) for i in prefix)


def test_grid_code_and_community_name(town):
    grid = one(town.url, "SELECT code FROM unit_grid ORDER BY code LIMIT 1")
    items = find(town, grid["code"], types="unit_grid")
    assert items[0]["id"] == grid["code"] and items[0]["collection"] == "unit-grids"
    comm = one(town.url, "SELECT code, name FROM community ORDER BY code LIMIT 1")
    items = find(town, comm["name"], types="community")
    assert items[0]["id"] == comm["code"] and items[0]["score"] >= 3
    addr = one(town.url, "SELECT address FROM poi WHERE address IS NOT NULL ORDER BY id LIMIT 1")["address"]
    assert find(town, addr, types="address")[0]["title"] == addr


@pytest.mark.parametrize("params,field", [({"q": "x" * 101}, "q"), ({"q": "a\x00b"}, "q"), ({"q": "  "}, "q"),
                                          ({}, "q"), ({"q": "a", "limit": "0"}, "limit"), ({"q": "a", "limit": "51"}, "limit"),
                                          ({"q": "a", "limit": "many"}, "limit"), ({"q": "a", "types": "poi,people"}, "types"),
                                          ({"q": "a", "where": "1"}, "where")])
def test_bad_input_is_a_400_naming_the_parameter(town, params, field):
    r = town.get("/api/search", params=params)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_like_wildcards_are_text(town):
    assert find(town, "%") == [] and find(town, "_") == []
