"""Plans (标绘方案) and their shapes (OGC API collection `annotations`) over HTTP: sharing by
visibility through row security, Part 4 writes with ETags, owner-only plan changes, export."""
from __future__ import annotations

import pytest

GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("plans")) as client:
        yield client


@pytest.fixture(scope="module")
def people(town):
    c = town.creds
    return {"a": c.headers("dispatcher", "plan.a"), "b": c.headers("gis_editor", "plan.b"),
            "c": c.headers("department_handler", "plan.c"), "public": {}}


def center(town):
    from civicgrid.db import connect

    with connect(town.url) as conn:
        r = conn.execute("SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM town").fetchone()
    return r["x"], r["y"]


def plan(town, who, **body):
    r = town.post("/api/plans", json={"name": "测试方案", **body}, headers=who)
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/api/plans/{r.json()['id']}"
    return r.json()


def shape(town, who, plan_id, kind="polygon", label=None, **extra):
    x, y = center(town)
    geoms = {"polygon": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y]]]},
             "point": {"type": "Point", "coordinates": [x, y]}, "circle": {"type": "Point", "coordinates": [x, y]},
             "arrow": {"type": "LineString", "coordinates": [[x, y], [x + 0.002, y + 0.001]]}}
    feature = {"type": "Feature", "geometry": geoms[kind],
               "properties": {"plan_id": plan_id, "kind": kind, "label": label,
                              "style": {"color": "#ff0000", "width": 2, "fill_opacity": 0.3}, **extra}}
    return town.post("/ogc/collections/annotations/items", json=feature, headers={**who, "Content-Type": GEOJSON})


def items(town, who, plan_id=None):
    params = {"plan_id": plan_id} if plan_id else {}
    r = town.get("/ogc/collections/annotations/items", params=params, headers=who)
    assert r.status_code == 200, r.text
    return r.json()["features"]


def test_a_plan_shared_with_staff_is_seen_and_edited_by_another_role(town, people):
    a, b = people["a"], people["b"]
    p = plan(town, a, name="防汛巡查", visibility="staff")
    assert p["owner"] == "plan.a" and p["mine"] and p["feature_count"] == 0 and p["role"] is None
    r = shape(town, a, p["id"], "polygon", "积水点")
    assert r.status_code == 201 and r.headers["etag"] == '"1"', r.text
    assert shape(town, a, p["id"], "arrow", "疏散方向").status_code == 201
    assert shape(town, a, p["id"], "circle", radius_m=30).status_code == 201
    sid = r.json()["id"]
    # B (GIS editor) sees the plan, its shapes, and edits one
    seen = town.get(f"/api/plans/{p['id']}", headers=b)
    assert seen.status_code == 200 and seen.json()["feature_count"] == 3 and not seen.json()["mine"]
    assert p["id"] in [x["id"] for x in town.get("/api/plans", headers=b).json()["plans"]]
    feats = items(town, b, p["id"])
    assert len(feats) == 3 and {f["properties"]["kind"] for f in feats} == {"polygon", "arrow", "circle"}
    feat = next(f for f in feats if f["id"] == sid)
    assert feat["properties"]["style"] == {"color": "#ff0000", "width": 2, "fill_opacity": 0.3}
    feat["properties"]["label"] = "积水点（已处置）"
    body = {"type": "Feature", "geometry": feat["geometry"], "properties": feat["properties"]}
    r = town.put(f"/ogc/collections/annotations/items/{sid}", json=body,
                 headers={**b, "Content-Type": GEOJSON, "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    # A reads what B wrote; a stale If-Match is refused
    assert town.get(f"/ogc/collections/annotations/items/{sid}", headers=a).json()["properties"]["label"] == "积水点（已处置）"
    r = town.put(f"/ogc/collections/annotations/items/{sid}", json=body,
                 headers={**a, "Content-Type": GEOJSON, "If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["field"] == "If-Match"
    # only the owner renames or deletes the plan
    r = town.patch(f"/api/plans/{p['id']}", json={"name": "改名"}, headers={**b, "If-Match": seen.headers["etag"]})
    assert r.status_code == 403 and r.json()["field"] == "owner"
    # export: a GeoJSON download of every shape
    r = town.get(f"/api/plans/{p['id']}/export", headers=b)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 3 and doc["name"] == "防汛巡查"
    assert next(f for f in doc["features"] if f["properties"]["kind"] == "circle")["properties"]["radius_m"] == 30


def test_a_private_plan_is_invisible_to_others(town, people):
    a, b = people["a"], people["b"]
    p = plan(town, a, name="个人草稿")
    sid = shape(town, a, p["id"], "point", "私人标注").json()["id"]
    assert town.get(f"/api/plans/{p['id']}", headers=b).status_code == 404
    assert town.get(f"/api/plans/{p['id']}/export", headers=b).status_code == 404
    assert p["id"] not in [x["id"] for x in town.get("/api/plans", headers=b).json()["plans"]]
    assert items(town, b, p["id"]) == [] and sid not in [f["id"] for f in items(town, b)]
    assert town.get(f"/ogc/collections/annotations/items/{sid}", headers=b).status_code == 404
    html = town.get("/ogc/collections/annotations/items?f=html", headers=b).text
    assert "私人标注" not in html
    assert "私人标注" in town.get("/ogc/collections/annotations/items?f=html", headers=a).text
    r = town.delete(f"/ogc/collections/annotations/items/{sid}", headers={**b, "If-Match": '"1"'})
    assert r.status_code == 404
    r = shape(town, b, p["id"], "point", "塞进别人的方案")
    assert r.status_code == 400 and r.json()["field"] == "properties.plan_id", r.text
    r = town.patch(f"/api/plans/{p['id']}", json={"name": "x"}, headers={**b, "If-Match": '"1"'})
    assert r.status_code == 404
    assert [f["id"] for f in items(town, a, p["id"])] == [sid]


def test_a_plan_shared_with_a_role(town, people):
    p = plan(town, people["a"], name="GIS 核查", visibility="role", role="gis_editor")
    assert town.get(f"/api/plans/{p['id']}", headers=people["b"]).status_code == 200
    assert town.get(f"/api/plans/{p['id']}", headers=people["c"]).status_code == 404


def test_owner_changes_with_etags_and_deletes(town, people):
    a = people["a"]
    p = plan(town, a, name="临时方案", visibility="staff")
    shape(town, a, p["id"], "point", "一点")
    url = f"/api/plans/{p['id']}"
    r = town.patch(url, json={"name": "x"}, headers=a)
    assert r.status_code == 428 and r.json()["field"] == "If-Match"
    r = town.patch(url, json={"name": "正式方案", "visibility": "private"}, headers={**a, "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["visibility"] == "private"
    assert town.get(url, headers=people["b"]).status_code == 404       # no longer shared
    r = town.patch(url, json={"name": "again"}, headers={**a, "If-Match": '"1"'})
    assert r.status_code == 412
    r = town.delete(url, headers={**a, "If-Match": '"2"'})
    assert r.status_code == 204
    assert town.get(url, headers=a).status_code == 404 and items(town, a, p["id"]) == []


@pytest.mark.parametrize("body,field", [({"name": ""}, "name"), ({"name": "长" * 101}, "name"),
                                        ({"name": "x", "visibility": "world"}, "visibility"),
                                        ({"name": "x", "visibility": "role"}, "role"),
                                        ({"name": "x", "visibility": "role", "role": "public"}, "role"),
                                        ({"name": "x", "visibility": "staff", "role": "leader"}, "role"),
                                        ({"name": "x", "owner": "someone"}, "owner")])
def test_bad_plans_are_400_naming_the_field(town, people, body, field):
    r = town.post("/api/plans", json=body, headers=people["a"])
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_bad_shapes_are_400(town, people):
    p = plan(town, people["a"], name="校验")
    r = shape(town, people["a"], p["id"], "point", extra_prop=1)
    assert r.status_code == 400 and r.json()["field"] == "properties.extra_prop"
    x, y = center(town)
    bad = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
           "properties": {"plan_id": p["id"], "kind": "polygon"}}
    r = town.post("/ogc/collections/annotations/items", json=bad, headers={**people["a"], "Content-Type": GEOJSON})
    assert r.status_code == 400 and r.json()["field"] == "geometry"
    bad["properties"] = {"plan_id": p["id"], "kind": "point", "style": {"color": "red"}}
    r = town.post("/ogc/collections/annotations/items", json=bad, headers={**people["a"], "Content-Type": GEOJSON})
    assert r.status_code == 400 and r.json()["field"] == "properties.style.color"


def test_the_public_gets_nothing(town, people):
    plan(town, people["a"], name="公开？", visibility="staff")
    for path in ("/api/plans", "/api/plans/1", "/ogc/collections/annotations/items"):
        assert town.get(path).status_code == 401
    assert town.post("/api/plans", json={"name": "x"}).status_code == 401
    me = town.get("/api/auth/me", headers=people["b"]).json()
    assert "plot" in me["tools"] and {"plans.write", "features.write.annotations"} <= set(me["actions"])
    assert "plot" not in town.get("/api/auth/me").json()["tools"]
