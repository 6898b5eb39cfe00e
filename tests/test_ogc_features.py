"""OGC API Features on a live `civicgrid serve`: Parts 1–4, CRS, CQL2, paging, bad input, config.

The server runs against a private database holding the small synthetic town of
civicgrid.layers.sample (deterministic counts), with writes enabled.
"""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest
from databases import drop_database, migrated_database, start_server

from civicgrid.security.testing import Credentials

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG4548 = "http://www.opengis.net/def/crs/EPSG/0/4548"
ALL = ["urban-components", "unit-grids", "responsibility-grids", "communities", "town-boundary",
       "officer-positions", "officer-latest", "cases", "pois"]


@pytest.fixture(scope="module")
def sample_db(pg_admin_url):
    from civicgrid.layers.sample import load_sample

    url = migrated_database(pg_admin_url)
    load_sample(url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def server(sample_db):
    proc, base = start_server(sample_db)
    creds = Credentials(sample_db)
    # reads as an admin (every collection); writes below as named GIS editors
    with httpx.Client(base_url=base + "/ogc", timeout=30, headers=creds.headers("admin", "ogc-admin")) as client:
        client.creds = creds
        yield client
    proc.terminate()
    proc.wait(10)


def sql_one(url, query, params=None):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()


def assert_ogc_error(r: httpx.Response, status: int, *words: str):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"code", "description"}, body
    for w in words:
        assert w in body["description"], body


# ---------------------------------------------------------------- Part 1

def test_every_collection_serves_items_with_crs84(server, sample_db):
    colls = {c["id"] for c in server.get("/collections", params={"f": "json"}).json()["collections"]}
    assert set(ALL) <= colls
    for cid in ALL:
        r = server.get(f"/collections/{cid}/items", params={"limit": 5})
        assert r.status_code == 200, (cid, r.text)
        assert r.headers["content-type"].startswith("application/geo+json")
        assert r.headers["content-crs"] == f"<{CRS84}>"
        fc = r.json()
        assert fc["type"] == "FeatureCollection" and 1 <= fc["numberReturned"] <= 5
        assert {ln["rel"] for ln in fc["links"]} >= {"self", "collection"}


def test_cases_never_show_the_reporter(server):
    fc = server.get("/collections/cases/items", params={"limit": 100}).json()
    text = json.dumps(fc, ensure_ascii=False)
    assert fc["numberReturned"] == 40
    for secret in ("reporter_name", "reporter_phone", "举报人", "1390000"):
        assert secret not in text
    q = server.get("/collections/cases/queryables").json()
    assert "reporter_name" not in q["properties"] and "reporter_phone" not in q["properties"]


def test_item_by_id_and_etag(server):
    r = server.get("/collections/urban-components/items/11011301001000007")
    assert r.status_code == 200
    assert r.json()["id"] == "11011301001000007"
    assert r.headers["etag"] == '"1"'
    pos = server.get("/collections/officer-positions/items", params={"limit": 1}).json()["features"][0]
    again = server.get(f"/collections/officer-positions/items/{pos['id']}").json()
    assert again["properties"] == pos["properties"]
    assert_ogc_error(server.get("/collections/urban-components/items/99999999999999999"), 404)
    assert_ogc_error(server.get("/collections/pois/items/abc"), 404)


def test_gdal_36_item_url_shape(server):
    """GDAL 3.6 appends /{id} after the items link's query string."""
    r = server.get("/collections/urban-components/items?f=json/11011301001000003")
    assert r.status_code == 200 and r.json()["id"] == "11011301001000003"
    # an interval in datetime is not mistaken for that shape
    r = server.get("/collections/officer-positions/items",
                   params={"datetime": "2026-11-02T00:00:00Z/2026-11-02T00:10:00Z", "limit": 100})
    assert r.status_code == 200 and r.json()["numberReturned"] == 3 * 21


def test_keyset_paging_walks_everything_once(server):
    seen, url, pages = [], "/collections/urban-components/items?limit=50", 0
    first = server.get(url).json()
    assert first["numberMatched"] == 240
    page = first
    while True:
        pages += 1
        seen += [f["id"] for f in page["features"]]
        nxt = [ln["href"] for ln in page["links"] if ln["rel"] == "next"]
        if not nxt:
            break
        assert "after=" in nxt[0]
        page = server.get(nxt[0]).json()
    assert pages == 5 and len(seen) == 240 and len(set(seen)) == 240 and seen == sorted(seen)
    # prev from the last page gives back the page before it
    prev = [ln["href"] for ln in page["links"] if ln["rel"] == "prev"][0]
    back = server.get(prev).json()
    assert [f["id"] for f in back["features"]] == seen[150:200]
    # offset still works
    off = server.get("/collections/urban-components/items", params={"limit": 50, "offset": 200}).json()
    assert [f["id"] for f in off["features"]] == seen[200:240]
    assert any(ln["rel"] == "prev" for ln in off["links"])


def test_limit_bounds_and_bad_input(server):
    items = "/collections/urban-components/items"
    assert_ogc_error(server.get(items, params={"limit": 0}), 400, "limit")
    assert_ogc_error(server.get(items, params={"limit": 10001}), 400, "limit")
    assert server.get(items, params={"limit": 10000}).json()["numberReturned"] == 240
    assert_ogc_error(server.get(items, params={"bbox": "116.6,40.1,116.7"}), 400, "bbox")
    assert_ogc_error(server.get(items, params={"bbox": "a,b,c,d"}), 400, "bbox")
    assert_ogc_error(server.get("/collections/no-such/items"), 404, "no-such")
    assert_ogc_error(server.get(items, params={"filter": "name = "}), 400, "CQL2")
    assert_ogc_error(server.get(items, params={"filter": "nosuch = 'x'"}), 400, "nosuch")
    assert_ogc_error(server.get(items, params={"filter": "name = 3"}), 400, "text")
    assert_ogc_error(server.get(items, params={"crs": "EPSG:3857"}), 400, "crs")
    assert_ogc_error(server.get(items, params={"bbox": "1,2,3,4", "bbox-crs": "EPSG:4326x"}), 400, "bbox-crs")
    assert_ogc_error(server.get(items, params={"sortby": "-nosuch"}), 400, "nosuch")
    assert_ogc_error(server.get(items, params={"properties": "name,nosuch"}), 400, "nosuch")
    assert_ogc_error(server.get(items, params={"colour": "red"}), 400, "colour")
    assert_ogc_error(server.get(items, params={"datetime": "yesterday"}), 400, "datetime")
    assert_ogc_error(server.get(items, params={"skipGeometry": "maybe"}), 400, "skipGeometry")
    assert_ogc_error(server.get(items, params={"filter": "initial_date > TIMESTAMP('2024-13-45T00:00:00Z')"}), 400)
    assert_ogc_error(server.get("/collections/urban-components/items/11011301001000001", params={"limit": 3}), 400)
    assert_ogc_error(server.get(items, params={"filter": "extra = 'x'"}), 400, "object")
    assert_ogc_error(server.get(items, params={"filter": "S_INTERSECTS(name, POINT(1 2))"}), 400, "geometry")
    assert_ogc_error(server.get(items, params={"filter": "S_DWITHIN(geometry, POINT(1 2), 10, meters)"}), 400)
    assert_ogc_error(server.get(items, params={"bbox": "1e10,1e10,2e10,2e10", "bbox-crs": EPSG4548}), 400, "transform")
    assert_ogc_error(server.get(items, params={"limit": ["1", "2"]}), 400, "more than once")
    assert_ogc_error(server.get(items, params={"f": "xml"}), 400)


# ---------------------------------------------------------------- Part 2: CRS

def test_crs_axis_order_and_bbox_crs(server, sample_db):
    fid = "11011301001000005"
    lon, lat = sql_one(sample_db, "SELECT ST_X(geom), ST_Y(geom) FROM component WHERE id = %s", [fid])
    e, n = sql_one(sample_db, "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 4548) g FROM component "
                              "WHERE id = %s) x", [fid])
    base = server.get(f"/collections/urban-components/items/{fid}").json()["geometry"]["coordinates"]
    assert base == pytest.approx([lon, lat], abs=1e-7)
    r = server.get(f"/collections/urban-components/items/{fid}", params={"crs": EPSG4490})
    assert r.headers["content-crs"] == f"<{EPSG4490}>"
    assert r.json()["geometry"]["coordinates"] == pytest.approx([lat, lon], abs=1e-7)
    r = server.get(f"/collections/urban-components/items/{fid}", params={"crs": EPSG4548})
    assert r.json()["geometry"]["coordinates"] == pytest.approx([n, e], abs=1e-3)
    # the same box in the three CRSs selects the same features
    box84 = "116.60,40.10,116.65,40.13"
    ids84 = {f["id"] for f in server.get("/collections/urban-components/items",
                                         params={"bbox": box84, "limit": 1000}).json()["features"]}
    ids4490 = {f["id"] for f in server.get("/collections/urban-components/items",
                                           params={"bbox": "40.10,116.60,40.13,116.65", "bbox-crs": EPSG4490,
                                                   "limit": 1000}).json()["features"]}
    expected = sql_one(sample_db, "SELECT count(*) FROM component WHERE ST_Intersects(geom, "
                                  "ST_MakeEnvelope(116.60, 40.10, 116.65, 40.13, 4490))")[0]
    assert len(ids84) == expected > 0 and ids84 == ids4490
    n1, e1, n2, e2 = sql_one(sample_db, "SELECT ST_YMin(b), ST_XMin(b), ST_YMax(b), ST_XMax(b) FROM (SELECT "
                                        "ST_Transform(ST_MakeEnvelope(116.60, 40.10, 116.65, 40.13, 4490), 4548) b) x")
    ids4548 = {f["id"] for f in server.get("/collections/urban-components/items",
                                           params={"bbox": f"{n1},{e1},{n2},{e2}", "bbox-crs": EPSG4548,
                                                   "limit": 1000}).json()["features"]}
    assert ids84 <= ids4548  # the projected box is slightly larger than the lon/lat one


def test_collection_metadata_lists_crs_and_titles(server):
    landing = httpx.get(str(server.base_url).rstrip("/"), params={"f": "json"}, follow_redirects=True)
    assert landing.status_code == 200 and any(ln["rel"] == "conformance" for ln in landing.json()["links"])
    meta = server.get("/collections/urban-components", params={"f": "json"}).json()
    assert set(meta["crs"]) >= {CRS84, EPSG4490, EPSG4548}
    assert "部件" in server.get("/collections/urban-components", params={"f": "json", "lang": "zh"}).json()["title"]
    assert meta["links"][0]["href"].startswith(str(server.base_url).rstrip("/"))


def test_components_by_geometry_kind(server, sample_db):
    """One geometry type per collection for typed clients (QGIS, GDAL): read-only views of component."""
    listed = {c["id"]: c for c in server.get("/collections", params={"f": "json", "lang": "zh"}).json()["collections"]}
    assert listed["urban-components-points"]["title"] == "城市管理部件（点状部件）"
    assert {"urban-components-lines", "urban-components-polygons", "urban-components"} <= set(listed)
    points = server.get("/collections/urban-components-points/items", params={"limit": 1000}).json()
    assert points["numberReturned"] == 240 and {f["geometry"]["type"] for f in points["features"]} == {"MultiPoint"}
    assert server.get("/collections/urban-components-lines/items").json()["numberReturned"] == 0
    q = server.get("/collections/urban-components-polygons/queryables").json()
    assert q["properties"]["geometry"]["format"] == "geometry-multipolygon" and "type_code" in q["properties"]
    one = points["features"][0]
    assert server.get(f"/collections/urban-components-points/items/{one['id']}").json()["properties"]["name"]
    r = server.delete(f"/collections/urban-components-points/items/{one['id']}", headers={"If-Match": '"1"'})
    assert r.status_code == 405, r.text


def test_tiles_are_discoverable(server):
    """OGC API - Tiles 1.0: tilesets links on the landing page and the tiled collections, the
    conformance classes, the tileset list and metadata, and a tile matrix set GDAL 3.6 can parse."""
    rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    base = str(server.base_url).rstrip("/")
    for landing in (httpx.get(base, params={"f": "json"}), server.get("/", params={"f": "json"})):
        hrefs = [ln["href"] for ln in landing.json()["links"] if ln["rel"] == rel]
        assert hrefs == [f"{base}/tiles?f=json"], landing.json()["links"]
    listed = {c["id"]: c for c in server.get("/collections", params={"f": "json"}).json()["collections"]}
    for cid in ("urban-components", "unit-grids", "cases", "pois"):
        for doc in (listed[cid], server.get(f"/collections/{cid}", params={"f": "json"}).json()):
            assert [ln["href"] for ln in doc["links"] if ln["rel"] == rel] == [f"{base}/collections/{cid}/tiles?f=json"]
    assert not [ln for ln in listed["communities"]["links"] if ln["rel"] == rel]
    conformance = set(server.get("/conformance", params={"f": "json"}).json()["conformsTo"])
    assert {f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{c}" for c in
            ("core", "tileset", "tilesets-list", "geodata-tilesets", "dataset-tilesets", "mvt")} <= conformance
    tilesets = server.get("/collections/pois/tiles", params={"f": "json"}).json()["tilesets"]
    assert tilesets[0]["dataType"] == "vector" and tilesets[0]["crs"].endswith("/EPSG/0/3857")
    tileset = server.get("/collections/pois/tiles/WebMercatorQuad").json()
    item = next(ln for ln in tileset["links"] if ln["rel"] == "item")
    assert item["type"] == "application/vnd.mapbox-vector-tile" and item["href"].endswith("/{tileMatrix}/{tileRow}/{tileCol}")
    tms = server.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == tms["identifier"] == "WebMercatorQuad" and tms["type"] == "TileMatrixSetType"
    assert tms["tileMatrices"][3]["identifier"] == "3" and tms["tileMatrices"][3]["topLeftCorner"][0] < -2e7
    r = server.get("/collections/pois/tiles/WebMercatorQuad/23/0/0")
    assert_ogc_error(r, 400, "beyond the tile matrix set WebMercatorQuad", "0 to 22")


# ---------------------------------------------------------------- Part 3: CQL2

def test_cql2_text_json_post_and_spatial(server, sample_db):
    items = "/collections/urban-components/items"
    broken = sql_one(sample_db, "SELECT count(*) FROM component WHERE status = '破损'")[0]
    for text in ("status = '破损'", "STATUS = '破损'", "status='破损' and true", "NOT (status <> '破损')"):
        r = server.get(items, params={"filter": text, "limit": 1000})
        assert r.status_code == 200, (text, r.text)
        assert r.json()["numberReturned"] == broken, text
    r = server.get(items, params={"filter": json.dumps({"op": "=", "args": [{"property": "status"}, "破损"]}),
                                  "filter-lang": "cql2-json", "limit": 1000})
    assert r.json()["numberReturned"] == broken
    r = server.post(items, params={"limit": 1000}, headers={"Content-Type": "application/query-cql-json"},
                    content=json.dumps({"op": "and", "args": [
                        {"op": "=", "args": [{"property": "status"}, "破损"]},
                        {"op": "s_intersects", "args": [{"property": "geometry"},
                                                        {"bbox": [116.60, 40.10, 116.65, 40.16]}]}]}))
    inside = sql_one(sample_db, "SELECT count(*) FROM component WHERE status = '破损' AND "
                                "ST_Intersects(geom, ST_MakeEnvelope(116.60, 40.10, 116.65, 40.16, 4490))")[0]
    assert r.status_code == 200 and r.json()["numberReturned"] == inside > 0
    poly = "POLYGON((116.6 40.1, 116.65 40.1, 116.65 40.16, 116.6 40.16, 116.6 40.1))"
    for text in (f"s_intersects(geometry, {poly}) and status = '破损'",
                 f"S_WITHIN(geometry, {poly}) AND status IN ('破损')"):
        assert server.get(items, params={"filter": text, "limit": 1000}).json()["numberReturned"] == inside
    r = server.get(items, params={"filter": "name LIKE '上水井盖1%' and initial_date >= DATE('2024-01-01')",
                                  "limit": 1000})
    like = sql_one(sample_db, "SELECT count(*) FROM component WHERE name LIKE '上水井盖1%%'")[0]
    assert r.json()["numberReturned"] == like
    r = server.get("/collections/officer-positions/items", params={
        "filter": "t_after(recorded_at, TIMESTAMP('2026-11-02T03:00:00Z')) and officer_id = 2", "limit": 1000})
    after = sql_one(sample_db, "SELECT count(*) FROM officer_position WHERE recorded_at > '2026-11-02T03:00:00Z' "
                               "AND officer_id = 2")[0]
    assert r.json()["numberReturned"] == after > 0
    # property equality shortcut, sortby, properties, skipGeometry
    r = server.get(items, params={"status": "丢失", "sortby": "-name", "properties": "name,status",
                                  "skipGeometry": "true", "limit": 3}).json()
    assert [f["properties"]["status"] for f in r["features"]] == ["丢失"] * 3
    assert set(r["features"][0]["properties"]) == {"name", "status"} and r["features"][0]["geometry"] is None
    names = [f["properties"]["name"] for f in r["features"]]
    assert names == sorted(names, reverse=True)


def test_queryables_have_types_and_catalog_enums(server, sample_db):
    q = server.get("/collections/urban-components/queryables").json()
    props = q["properties"]
    assert props["status"]["type"] == "string"
    assert set(props["status"]["enum"]) == {"完好", "破损", "丢失", "占用", "废弃", "移除"}
    n_types = sql_one(sample_db, "SELECT count(DISTINCT code) FROM code_catalog WHERE kind = 'component'")[0]
    assert len(props["type_code"]["enum"]) == n_types and "01001" in props["type_code"]["enum"]
    assert props["initial_date"]["format"] == "date"
    assert props["version"]["type"] == "integer"
    # the map's editing form: derived and bookkeeping fields read-only, what a new item needs required
    assert props["version"]["readOnly"] and props["updated_at"]["readOnly"] and "readOnly" not in props["name"]
    assert {"type_code", "name", "dept_code", "unit_grid_code", "initial_date"} <= set(q["required"])
    assert "status" not in q["required"]
    pos = server.get("/collections/officer-positions/queryables").json()["properties"]
    assert pos["recorded_at"]["format"] == "date-time" and pos["recorded_at"]["x-ogc-role"] == "primary-instant"


def test_datetime_filters_positions(server, sample_db):
    r = server.get("/collections/officer-positions/items",
                   params={"datetime": "2026-11-02T01:00:00Z/..", "limit": 10000}).json()
    n = sql_one(sample_db, "SELECT count(*) FROM officer_position WHERE recorded_at >= '2026-11-02T01:00:00Z'")[0]
    assert r["numberReturned"] == n
    one = server.get("/collections/officer-positions/items",
                     params={"datetime": "2026-11-02T00:00:30Z", "limit": 10}).json()
    assert one["numberReturned"] == 3


# ---------------------------------------------------------------- Part 4: editing

NEW_COMPONENT = {
    "type": "Feature", "id": "11011301001900001",
    "geometry": {"type": "Point", "coordinates": [116.605, 40.155]},
    "properties": {"type_code": "01001", "name": "新井盖", "dept_code": None, "dept_name": "顺义区城市管理委员会",
                   "unit_grid_code": "110113003001001", "initial_date": "2026-11-01", "status": "完好"},
}


def test_edit_component_lifecycle_with_history(server, sample_db):
    dept = sql_one(sample_db, "SELECT code FROM department LIMIT 1")[0]
    feature = json.loads(json.dumps(NEW_COMPONENT))
    feature["properties"]["dept_code"] = dept
    items = "/collections/urban-components/items"
    geo = {"Content-Type": "application/geo+json", **server.creds.headers("gis_editor", "gis-staff-1")}
    r = server.post(items, content=json.dumps(feature), headers=geo)
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"' and r.headers["location"].endswith("/items/11011301001900001")
    url = f"{items}/11011301001900001"
    assert server.post(items, content=json.dumps(feature), headers=geo).status_code == 409
    # replace needs If-Match
    feature["properties"]["name"] = "新井盖-改"
    assert_ogc_error(server.put(url, content=json.dumps(feature), headers=geo), 428, "If-Match")
    assert_ogc_error(server.put(url, content=json.dumps(feature), headers={**geo, "If-Match": '"5"'}), 412)
    r = server.put(url, content=json.dumps(feature), headers={**geo, "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["properties"]["name"] == "新井盖-改"
    r = server.patch(url, content=json.dumps({"properties": {"status": "破损"}}),
                     headers={"Content-Type": "application/merge-patch+json", "If-Match": '"2"',
                              **server.creds.headers("gis_editor", "gis-staff-3")})
    assert r.status_code == 200 and r.json()["properties"]["status"] == "破损"
    assert r.json()["properties"]["name"] == "新井盖-改" and r.headers["etag"] == '"3"'
    assert server.delete(url, headers={"If-Match": '"3"', **server.creds.headers("gis_editor", "gis-staff-2")}).status_code == 204
    assert server.get(url).status_code == 404
    with psycopg.connect(sample_db) as conn:
        rows = conn.execute("SELECT operation, version, changed_by FROM component_history "
                            "WHERE component_id = '11011301001900001' ORDER BY history_id").fetchall()
    assert rows == [("insert", 1, "gis-staff-1"), ("update", 2, "gis-staff-1"), ("update", 3, "gis-staff-3"),
                    ("delete", 3, "gis-staff-2")]


def test_edit_refusals_are_400_with_reasons(server, sample_db):
    dept = sql_one(sample_db, "SELECT code FROM department LIMIT 1")[0]
    items = "/collections/urban-components/items"
    geo = {"Content-Type": "application/geo+json"}

    def post(change_props=None, geometry=None, fid="11011301001900002"):
        f = json.loads(json.dumps(NEW_COMPONENT))
        f["id"] = fid
        f["properties"]["dept_code"] = dept
        f["properties"].update(change_props or {})
        if geometry is not None:
            f["geometry"] = geometry
        return server.post(items, content=json.dumps(f), headers=geo)

    assert_ogc_error(post({"type_code": "01999"}, fid="11011301999900002"), 400, "01999")
    assert_ogc_error(post(fid="1101130100190000X"), 400, "id")
    assert_ogc_error(post({"name": "x" * 31}), 400, "name")
    assert_ogc_error(post({"colour": "red"}), 400, "colour")
    assert_ogc_error(post({"initial_date": "2026-02-30"}), 400, "initial_date")
    assert_ogc_error(post(geometry={"type": "LineString", "coordinates": [[116.605, 40.155], [116.606, 40.156]]}),
                     400, "point")
    assert_ogc_error(post(geometry={"type": "Point", "coordinates": [117.5, 40.155]}), 400, "outside the town")
    assert_ogc_error(post({"unit_grid_code": "110113003001099"}), 400, "does not exist")
    bowtie = {"type": "Polygon", "coordinates": [[[116.61, 40.11], [116.62, 40.12], [116.62, 40.11],
                                                  [116.61, 40.12], [116.61, 40.11]]]}
    r = server.post("/collections/unit-grids/items", headers=geo, content=json.dumps(
        {"type": "Feature", "id": "110113003001099", "geometry": bowtie, "properties": {"name": "坏网格"}}))
    assert_ogc_error(r, 400, "not valid")
    assert_ogc_error(server.post(items, content="{not json", headers=geo), 400)
    # a grid overlapping its neighbours is refused by the topology trigger
    square = {"type": "Polygon", "coordinates": [[[116.601, 40.141], [116.604, 40.141], [116.604, 40.144],
                                                  [116.601, 40.144], [116.601, 40.141]]]}
    r = server.post("/collections/unit-grids/items", headers=geo, content=json.dumps(
        {"type": "Feature", "id": "110113003001099", "geometry": square, "properties": {"name": "重叠"}}))
    assert_ogc_error(r, 400, "overlaps")
    # deleting a unit grid that components still use is a conflict
    etag = server.get("/collections/unit-grids/items/110113003001001").headers["etag"]
    assert_ogc_error(server.delete("/collections/unit-grids/items/110113003001001", headers={"If-Match": etag}), 409)
    # read-only collections
    assert_ogc_error(server.post("/collections/cases/items", headers=geo, content="{}"), 405)
    assert_ogc_error(server.delete("/collections/communities/items/110113003001", headers={"If-Match": "*"}), 405)
    assert sql_one(sample_db, "SELECT count(*) FROM component WHERE id LIKE '%%900002'")[0] == 0


def test_edit_pois_and_responsibility_grids(server, sample_db):
    geo = {"Content-Type": "application/geo+json"}
    r = server.post("/collections/pois/items", headers=geo, content=json.dumps({
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [40.12, 116.61]},
        "properties": {"name": "测试点", "category": "学校"}}) , )
    assert_ogc_error(r, 400, "lon,lat")  # lat/lon given as CRS84
    r = server.post("/collections/pois/items", headers={**geo, "Content-Crs": f"<{EPSG4490}>"}, content=json.dumps({
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [40.12, 116.61]},
        "properties": {"name": "测试点", "category": "学校"}}))
    assert r.status_code == 201, r.text
    assert r.json()["geometry"]["coordinates"] == pytest.approx([116.61, 40.12])
    poi = r.json()["id"]
    hist = sql_one(sample_db, "SELECT count(*) FROM feature_history WHERE table_name = 'poi' AND feature_id = %s",
                   [str(poi)])[0]
    assert hist == 1
    # move a unit grid between responsibility grids: geometry follows
    rg = "/collections/responsibility-grids/items/110113003001Z01"
    cur = server.get(rg)
    props = cur.json()["properties"]
    codes = [c for c in props["unit_grid_codes"] if not c.endswith("006")]
    r = server.patch(rg, headers={"If-Match": cur.headers["etag"]},
                     content=json.dumps({"properties": {"unit_grid_codes": codes, "name": "改名责任网格"}}))
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["unit_grid_codes"] == codes and r.json()["properties"]["name"] == "改名责任网格"
    area = sql_one(sample_db, "SELECT round(ST_Area(geom)::numeric, 6) FROM responsibility_grid "
                              "WHERE code = '110113003001Z01'")[0]
    assert float(area) == pytest.approx(0.025 * 0.02 * 5, rel=1e-3)
    assert_ogc_error(server.put(rg, headers={**geo, "If-Match": r.headers["etag"]}, content=json.dumps({
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [116.61, 40.12]},
        "properties": {"name": "x"}})), 400, "derived")


def test_writes_need_a_gis_editor(server):
    poi = json.dumps({"type": "Feature", "geometry": None, "properties": {}})
    r = httpx.post(str(server.base_url).rstrip("/") + "/collections/pois/items", headers={"Content-Type": "application/geo+json"},
                   content=poi)
    assert_ogc_error(r, 401, "login")
    r = server.post("/collections/pois/items", content=poi,
                    headers={"Content-Type": "application/geo+json", **server.creds.headers("leader")})
    assert_ogc_error(r, 403, "leader")
    r = server.delete("/collections/cases/items/1", headers={"If-Match": "*", **server.creds.headers("gis_editor")})
    assert r.status_code == 405


def test_history_and_revert_of_one_change(server, sample_db):
    """/api/features/…/history lists who changed what (before/after); a revert undoes one change as a
    new edit (If-Match, audited); reverting a deletion restores, reverting a creation deletes; bad input
    is a 4xx naming the field."""
    dept = sql_one(sample_db, "SELECT code FROM department LIMIT 1")[0]
    api = httpx.Client(base_url=str(server.base_url).rstrip("/").removesuffix("/ogc") + "/api", timeout=30,
                       headers=server.creds.headers("gis_editor", "gis-staff-1"))
    other = server.creds.headers("gis_editor", "gis-staff-2")
    fid, items = "11011301001900007", "/collections/urban-components/items"
    feature = json.loads(json.dumps(NEW_COMPONENT))
    feature["id"], feature["properties"]["dept_code"] = fid, dept
    geo = {"Content-Type": "application/geo+json", **api.headers}
    assert server.post(items, content=json.dumps(feature), headers=geo).status_code == 201
    r = server.patch(f"{items}/{fid}", content=json.dumps({"properties": {"name": "改名井盖"}}),
                     headers={**other, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    r = server.patch(f"{items}/{fid}", content=json.dumps({"geometry": {"type": "Point", "coordinates": [116.6052, 40.1551]}}),
                     headers={**other, "If-Match": '"2"'})
    assert r.status_code == 200, r.text
    url = f"/features/urban-components/{fid}"
    h = api.get(f"{url}/history")
    assert h.status_code == 200 and h.headers["etag"] == '"3"', h.text
    doc = h.json()
    assert doc["exists"] and doc["version"] == 3
    moved, renamed, created = doc["changes"]
    assert [c["operation"] for c in doc["changes"]] == ["update", "update", "insert"]
    assert moved["changed"] == ["geom"] and moved["after_geometry"]["coordinates"] == pytest.approx([116.6052, 40.1551])
    assert moved["before_geometry"]["coordinates"] == pytest.approx([116.605, 40.155])
    assert renamed["changed"] == ["name"] and renamed["changed_by"] == "gis-staff-2"
    assert (renamed["before"]["name"], renamed["after"]["name"]) == ("新井盖", "改名井盖")
    assert created["changed_by"] == "gis-staff-1" and created["before"] is None
    assert api.get(f"{url}/history?limit=1").json()["changes"] == [moved]
    # the editing form's class picker knows what each class is drawn as
    tree = api.get("/catalog").json()["tree"]
    kinds = {c["geometry_kind"] for root in tree if root["kind"] == "component" for m in root["children"] for c in m["children"]}
    assert kinds <= {"point", "line", "polygon"} and "point" in kinds

    # bad input: each a 4xx naming the field
    revert = f"{url}/revert"
    body = json.dumps({"history_id": renamed["history_id"]})
    assert_ogc_error(api.get("/features/urban-components/11011301001999999/history"), 404, "not found")
    assert api.get("/features/nowhere/1/history").json()["field"] == "collection_id"
    assert api.get("/features/cases/1/history").status_code == 405
    assert api.get(f"{url}/history?limit=0").json()["field"] == "limit"
    assert api.get(f"{url}/history?colour=red").status_code == 400
    assert_ogc_error(api.post(revert, content=body), 428, "If-Match")
    r = api.post(revert, content=body, headers={"If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["field"] == "If-Match"
    for garbage, field in (('{"history_id": "x"}', "history_id"), ("{not json", "body"), ("[]", "body"),
                           ('{"history_id": 1, "why": 2}', "why"), ('{"history_id": 0}', "history_id")):
        r = api.post(revert, content=garbage, headers={"If-Match": '"3"'})
        assert r.status_code == 400 and r.json()["field"] == field, (garbage, r.text)
    other_change = sql_one(sample_db, "SELECT min(history_id) FROM component_history WHERE component_id <> %s", [fid])[0]
    r = api.post(revert, content=json.dumps({"history_id": other_change}), headers={"If-Match": '"3"'})
    assert r.status_code == 404 and r.json()["field"] == "history_id"
    leader = server.creds.headers("leader")
    assert api.get(f"{url}/history", headers=leader).status_code == 403
    assert api.post(revert, content=body, headers={**leader, "If-Match": '"3"'}).status_code == 403

    # revert the rename: the name goes back, the later move stays; a new version by the caller
    r = api.post(revert, content=body, headers={"If-Match": '"3"'})
    assert r.status_code == 200 and r.headers["etag"] == '"4"', r.text
    assert r.json()["properties"]["name"] == "新井盖"
    assert r.json()["geometry"]["coordinates"] == pytest.approx([116.6052, 40.1551])
    latest = api.get(f"{url}/history").json()["changes"][0]
    assert (latest["changed_by"], latest["changed"], latest["after"]["name"]) == ("gis-staff-1", ["name"], "新井盖")
    assert sql_one(sample_db, "SELECT count(*) FROM audit_log WHERE action LIKE 'POST /api/features/%%/revert' "
                              "AND target LIKE %s", [f"%{fid}%"])[0] >= 1
    # delete, revert the deletion (the feature is back), revert the creation (it is gone again)
    assert server.delete(f"{items}/{fid}", headers={**other, "If-Match": '"4"'}).status_code == 204
    doc = api.get(f"{url}/history").json()
    assert not doc["exists"] and doc["version"] == 4 and doc["changes"][0]["operation"] == "delete"
    r = api.post(revert, content=json.dumps({"history_id": doc["changes"][0]["history_id"]}), headers={"If-Match": '"4"'})
    assert r.status_code == 200 and r.headers["etag"] == '"5"' and r.json()["properties"]["name"] == "新井盖", r.text
    assert server.get(f"{items}/{fid}").status_code == 200
    r = api.post(revert, content=json.dumps({"history_id": created["history_id"]}), headers={"If-Match": '"5"'})
    assert r.status_code == 204
    assert server.get(f"{items}/{fid}").status_code == 404
    api.close()


# ---------------------------------------------------------------- start-up

def test_config_errors_name_the_key(tmp_path):
    from civicgrid.errors import SetupError
    from civicgrid.layers.ogc import load_config
    from civicgrid.settings import get_settings

    text = get_settings().pygeoapi_config.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("        data: ogc_cases", "        data: cases"), encoding="utf-8")
    with pytest.raises(SetupError, match=r"resources\.cases\.providers\.0\.data"):
        load_config(bad)
    bad.write_text(text.replace("  urban-components:\n    type: collection", "  urban-components:\n    type: colection"),
                   encoding="utf-8")
    with pytest.raises(SetupError, match=r"resources\.urban-components\.type"):
        load_config(bad)


def test_missing_table_disables_one_collection(pg_admin_url, tmp_path):
    url = migrated_database(pg_admin_url)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP VIEW ogc_officer_latest")
        proc, base = start_server(url)
        admin = Credentials(url).headers("admin")
        try:
            colls = {c["id"] for c in httpx.get(base + "/ogc/collections?f=json", headers=admin).json()["collections"]}
            assert "officer-latest" not in colls and "urban-components" in colls
            assert httpx.get(base + "/ogc/collections/officer-latest/items", headers=admin).status_code == 404
            fc = httpx.get(base + "/ogc/collections/urban-components/items", headers=admin).json()
            assert fc["numberReturned"] == 0 and fc["numberMatched"] == 0
        finally:
            proc.terminate()
            proc.wait(10)
        assert "officer-latest disabled" in Path(proc.log_path).read_text(errors="replace")
    finally:
        drop_database(pg_admin_url, url)


def test_deep_keyset_page_reads_only_its_rows(sample_db):
    """Page N through `after=` is an index seek: the scan stops after limit + 1 rows, whatever N."""
    from civicgrid.layers import features
    from civicgrid.layers.collections import COLLECTIONS

    coll = COLLECTIONS["urban-components"]
    plan = features.plan_items(coll, {"limit": "10", "after": "11011301001000200"})
    with psycopg.connect(sample_db) as conn:
        conn.execute("SET enable_seqscan = off")  # the sample table is tiny; plan as for a big one
        doc = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + plan.query.as_string(conn)).fetchone()[0][0]

    def scans(node):
        if "Scan" in node["Node Type"] and node.get("Relation Name") == "component":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    found = list(scans(doc["Plan"]))
    assert found and all(n["Actual Rows"] <= 11 for n in found), found
    assert all("Index" in n["Node Type"] for n in found)
