"""GET /api/labels: the Chinese name of every code a user sees, from the data that defines it."""
from __future__ import annotations

import pytest

from civicgrid.layers.collections import COLLECTIONS


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("labels")) as client:
        yield client


def test_labels_name_every_code(town):
    from civicgrid.db import connect

    r = town.get("/api/labels")            # the public's pages need them too
    assert r.status_code == 200 and r.headers["etag"]
    doc = r.json()
    assert doc["channels"]["hotline"] == "12345热线" and doc["urgency"] == {"normal": "一般", "urgent": "紧急", "critical": "特急"}
    assert doc["sla"] == {"green": "正常", "yellow": "即将超时", "red": "已超时"}
    assert doc["booleans"] == {"true": "是", "false": "否"}
    assert doc["roles"]["dispatcher"] == "派遣员" and doc["roles"]["public"] == "公众"
    assert doc["states"]["filed"] == "已立案/待派遣" and doc["workflow_states"]["hotline"]["dispatched"] == "处置中"
    with connect(town.url) as conn:
        used = {r["state"] for r in conn.execute("SELECT DISTINCT state FROM cases")}
        dept = conn.execute("SELECT code, coalesce(short_name, name) AS n FROM department LIMIT 1").fetchone()
        comm = conn.execute("SELECT code, name FROM community LIMIT 1").fetchone()
        comp = conn.execute("SELECT code, name FROM code_catalog WHERE kind = 'component' "
                            "AND standard = 'GB/T 47678.5-2026' LIMIT 1").fetchone()
    assert used <= set(doc["states"]), used - set(doc["states"])
    assert doc["departments"][dept["code"]] == dept["n"] and doc["communities"][comm["code"]] == comm["name"]
    assert doc["component_classes"][comp["code"]] == comp["name"]
    assert set(doc["collections"]) == set(COLLECTIONS)
    cases = doc["collections"]["cases"]
    assert cases["title"] == "案件（公开字段）" and cases["fields"]["channel"] == "来源"
    assert cases["values"]["channel"] == doc["channels"] and cases["values"]["is_closed"] == doc["booleans"]
    assert cases["values"]["sla_color"] == doc["sla"] and cases["values"]["state"] == doc["states"]
    for cid, coll in doc["collections"].items():   # every property has a Chinese title
        missing = [c.name for c in COLLECTIONS[cid].columns if c.name not in coll["fields"]]
        assert not missing, (cid, missing)


def test_labels_revalidate_with_the_etag(town):
    etag = town.get("/api/labels").headers["etag"]
    r = town.get("/api/labels", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["etag"] == etag and not r.content
    assert town.get("/api/labels", headers={"If-None-Match": '"other"'}).status_code == 200
