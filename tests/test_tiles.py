"""Vector tiles (layers/tiles.py): MVT content, thinning, errors, cache and its invalidation.

Runs on a small town built here with SQL (a 2 km square, 100 unit grids, 3,000 components, cases,
POIs), through a tiny Starlette app holding only the tile routes, as the OGC mount places them.
"""
from __future__ import annotations

import random

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from civicgrid.codes import uscc_check_char
from civicgrid.state import lifespan as state_lifespan

LON0, LAT0, STEP = 116.64, 40.12, 0.0024       # 10 × 10 cells of about 200 m
TOWN = "110113114"


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


def square(x0, y0, x1, y1) -> str:
    return f"SRID=4490;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def build_town(url: str, components: int = 3000, seed: int = 1) -> dict:
    """A small town: one community, 100 unit grids, points clustered towards the south-west corner."""
    from civicgrid.db import connect

    rng = random.Random(seed)
    dept = uscc("11110113MB0000001")
    with connect(url) as conn, conn.transaction():
        conn.execute("INSERT INTO town VALUES (%s, '仁和镇', %s)", [TOWN, square(LON0, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)])
        conn.execute("INSERT INTO community VALUES (%s, %s, '测试社区', '社区', %s)",
                     [TOWN + "001", TOWN, square(LON0, LAT0, LON0 + 10 * STEP, LAT0 + 10 * STEP)])
        grids = []
        for i in range(10):
            for j in range(10):
                code = f"{TOWN}001{i * 10 + j + 1:03d}"
                x0, y0 = LON0 + j * STEP, LAT0 + (9 - i) * STEP
                grids.append((code, x0, y0))
                conn.execute("INSERT INTO unit_grid (code, community_code, name, land_use, geom) "
                             "VALUES (%s, %s, %s, %s, %s)",
                             [code, TOWN + "001", f"网格{i * 10 + j + 1}", "城镇建设用地" if i < 5 else "农林用地",
                              square(x0, y0, x0 + STEP, y0 + STEP)])
        conn.execute("INSERT INTO department (code, name) VALUES (%s, '城管委')", [dept])
        types = [r["code"] for r in conn.execute(
            "SELECT code FROM code_catalog WHERE standard = 'GB/T 47678.5-2026' AND kind = 'component' "
            "AND geometry_kind = 'point' ORDER BY code LIMIT 20")]
        rows = []
        for n in range(components):
            # half of them in the south-west cell: a dense spot
            if n % 2:
                gx, gy = 9, 0
            else:
                gx, gy = rng.randrange(10), rng.randrange(10)
            code, x0, y0 = grids[gx * 10 + gy]
            t = types[n % len(types)]
            rows.append((f"110113{t}{n + 1:06d}", t, f"部件{n}", dept, "城管委", code,
                         f"SRID=4490;POINT({x0 + rng.uniform(0.0001, STEP - 0.0001)} {y0 + rng.uniform(0.0001, STEP - 0.0001)})"))
        cols = list(zip(*rows))
        # one statement: the statement-level rules and history triggers run once
        conn.execute("INSERT INTO component (id, type_code, name, dept_code, dept_name, unit_grid_code, initial_date, geom) "
                     "SELECT i, t, n, d, dn, g, '2026-01-01', geom::geometry FROM unnest(%s::text[], %s::text[], "
                     "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS u(i, t, n, d, dn, g, geom)",
                     [list(c) for c in cols])
        conn.execute("INSERT INTO poi (name, category, geom) SELECT '兴趣点' || g, '政府机构', "
                     "ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4490) FROM generate_series(1, 50) g",
                     [LON0, 10 * STEP, LAT0, 10 * STEP])
        matter = conn.execute("SELECT code FROM code_catalog WHERE standard = 'GB/T 47678.5-2026' AND kind = 'matter' "
                              "ORDER BY code LIMIT 1").fetchone()["code"]
        conn.execute("INSERT INTO cases (case_number, channel, category_kind, category_code, state, reporter_name, "
                     "reporter_phone, geom) SELECT %s || '20260101' || lpad(g::text, 4, '0'), 'patrol', 'matter', %s, "
                     "'filed', '张三', '13800000000', ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4490) "
                     "FROM generate_series(1, 40) g", [TOWN, matter, LON0, 10 * STEP, LAT0, 10 * STEP])
    return {"dept": dept, "grids": grids}


@pytest.fixture(scope="module")
def town_template(pg_admin_url):
    """The small town, built once per module; tests get a fast template copy each."""
    from databases import drop_database, migrated_database

    url = migrated_database(pg_admin_url)
    build_town(url)
    yield url.rsplit("/", 1)[1]
    drop_database(pg_admin_url, url)


@pytest.fixture
def town_db(town_template, pg_admin_url, monkeypatch):
    from databases import create_database, drop_database

    url = create_database(pg_admin_url, template=town_template)
    monkeypatch.setenv("DATABASE_URL", url)
    from civicgrid.settings import get_settings

    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(pg_admin_url, url)


@pytest.fixture
def client(town_db):
    from civicgrid.layers import tiles

    app = Starlette(routes=[Mount("/ogc", routes=tiles.routes)], lifespan=state_lifespan)
    with TestClient(app) as c:
        yield c


def decode(data: bytes) -> dict:
    import mapbox_vector_tile

    return mapbox_vector_tile.decode(data)


def town_tile(z: int) -> tuple[int, int]:
    from civicgrid.layers.tiles import lonlat_to_tile

    return lonlat_to_tile(LON0 + 5 * STEP, LAT0 + 5 * STEP, z)


def test_detail_tile_has_every_component_with_its_fields(client, town_db):
    from civicgrid.db import connect
    from civicgrid.layers.tiles import densest_tile

    with connect(town_db) as conn:
        z, x, y, count = densest_tile(conn, "urban-components", 16)
    r = client.get(f"/ogc/collections/urban-components/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["urban-components"]
    assert len(layer["features"]) >= count
    props = layer["features"][0]["properties"]
    assert {"id", "type_code", "major", "name", "status"} <= set(props)
    assert len(props["id"]) == 17


def test_low_zoom_aggregates_points_with_counts(client):
    z = 10
    x, y = town_tile(z)
    r = client.get(f"/ogc/collections/urban-components/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert r.status_code == 200
    features = decode(r.content)["urban-components"]["features"]
    assert sum(f["properties"]["count"] for f in features) == 3000
    assert len(features) < 100
    assert all(f["geometry"]["type"] == "Point" for f in features)


def test_cases_tile_has_public_fields_only(client):
    x, y = town_tile(15)
    r = client.get(f"/ogc/collections/cases/tiles/WebMercatorQuad/15/{y}/{x}")
    assert r.status_code == 200
    features = decode(r.content)["cases"]["features"]
    assert features
    props = features[0]["properties"]
    assert "case_number" in props and "state" in props
    assert not {"reporter_name", "reporter_phone", "officer_id"} & set(props)
    text = r.content.decode("latin-1")
    assert "13800000000" not in text


def test_unit_grids_and_pois_tiles(client):
    x, y = town_tile(14)
    grids = decode(client.get(f"/ogc/collections/unit-grids/tiles/WebMercatorQuad/14/{y}/{x}").content)["unit-grids"]
    assert grids["features"] and grids["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {"code", "land_use"} <= set(grids["features"][0]["properties"])
    pois = decode(client.get(f"/ogc/collections/pois/tiles/WebMercatorQuad/14/{y}/{x}").content)["pois"]
    assert sum(f["properties"]["count"] for f in pois["features"]) <= 50


def test_basemap_dataset_tile_has_several_layers(client):
    x, y = town_tile(14)
    r = client.get(f"/ogc/tiles/WebMercatorQuad/14/{y}/{x}")
    assert r.status_code == 200
    layers = decode(r.content)
    assert {"landuse", "community", "town"} <= set(layers)
    labels = [f for f in layers["community"]["features"] if f["properties"]["label"] == 1]
    assert labels and labels[0]["properties"]["name"] == "测试社区"
    kinds = {f["properties"]["kind"] for f in layers["landuse"]["features"]}
    assert {"urban", "farmland"} <= kinds


def test_empty_tile_is_204(client):
    r = client.get("/ogc/collections/urban-components/tiles/WebMercatorQuad/12/0/0")
    assert r.status_code == 204 and r.content == b""


@pytest.mark.parametrize("path, status, field", [
    ("/ogc/collections/nope/tiles/WebMercatorQuad/10/0/0", 404, "collectionId"),
    ("/ogc/collections/urban-components/tiles/WorldCRS84Quad/1/0/0", 404, "tileMatrixSetId"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/a/0/0", 400, "tileMatrix"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/23/0/0", 400, "tileMatrix"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/2/4/0", 400, "tileRow"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/2/0/4", 400, "tileCol"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/2/-1/0", 400, "tileRow"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/2/0/0?foo=1", 400, "foo"),
    ("/ogc/collections/urban-components/tiles/WebMercatorQuad/2/0/0?f=png", 400, "f"),
    ("/ogc/collections/nope/tiles", 404, "collectionId"),
])
def test_bad_requests_answer_json(client, path, status, field):
    r = client.get(path)
    assert r.status_code == status
    body = r.json()
    assert body["field"] == field and body["description"]


def test_tileset_metadata_is_ogc_and_tilejson(client):
    r = client.get("/ogc/collections/urban-components/tiles/WebMercatorQuad")
    assert r.status_code == 200
    doc = r.json()
    assert doc["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    assert doc["tiles"] == ["http://testserver/ogc/collections/urban-components/tiles/WebMercatorQuad/{z}/{y}/{x}"]
    assert doc["vector_layers"][0]["id"] == "urban-components"
    west, south, east, north = doc["bounds"]
    assert west == pytest.approx(LON0) and north == pytest.approx(LAT0 + 10 * STEP)
    rels = {link["rel"] for link in doc["links"]}
    assert {"self", "item", "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"} <= rels
    assert client.get("/ogc/collections/cases/tiles").json()["tilesets"][0]["dataType"] == "vector"
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) >= 23
    base = client.get("/ogc/tiles/WebMercatorQuad").json()
    assert {"landuse", "community", "town"} <= {v["id"] for v in base["vector_layers"]}


def test_cache_is_filled_and_invalidated_by_edits(client, town_db):
    from civicgrid.db import connect

    z = 16
    with connect(town_db) as conn:
        comp = conn.execute("SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM component ORDER BY id LIMIT 1").fetchone()
    from civicgrid.layers.tiles import lonlat_to_tile

    x, y = lonlat_to_tile(comp["lon"], comp["lat"], z)
    far_x, far_y = town_tile(10)
    url = f"/ogc/collections/urban-components/tiles/WebMercatorQuad/{z}/{y}/{x}"
    first = client.get(url)
    assert comp["id"] in {f["properties"]["id"] for f in decode(first.content)["urban-components"]["features"]}
    client.get(f"/ogc/collections/urban-components/tiles/WebMercatorQuad/10/{far_y}/{far_x}")
    with connect(town_db) as conn:
        cached = conn.execute("SELECT z, x, y FROM tile_cache WHERE layer = 'urban-components' ORDER BY z").fetchall()
    assert {(r["z"], r["x"], r["y"]) for r in cached} == {(10, far_x, far_y), (z, x, y)}
    second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 304

    # a change far from the tile leaves it cached; a change under it removes it, and the tile shows it
    with connect(town_db) as conn, conn.transaction():
        conn.execute("UPDATE component SET status = '破损' WHERE id = %s", [comp["id"]])
    with connect(town_db) as conn:
        left = conn.execute("SELECT z FROM tile_cache WHERE layer = 'urban-components'").fetchall()
        version = conn.execute("SELECT version FROM tile_layer_version WHERE layer = 'urban-components'").fetchone()
    assert left == [] and version["version"] >= 1   # both tiles lie under the changed point
    third = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert third.status_code == 200 and third.headers["etag"] != first.headers["etag"]
    feature = next(f for f in decode(third.content)["urban-components"]["features"] if f["properties"]["id"] == comp["id"])
    assert feature["properties"]["status"] == "破损"

    # an edit in another corner of the town leaves this tile's cache alone
    with connect(town_db) as conn, conn.transaction():
        other = conn.execute("SELECT id FROM component WHERE ST_X(geom) > %s AND ST_Y(geom) > %s LIMIT 1",
                             [LON0 + 8 * STEP, LAT0 + 8 * STEP]).fetchone()
        conn.execute("UPDATE component SET status = '丢失' WHERE id = %s", [other["id"]])
    with connect(town_db) as conn:
        kept = conn.execute("SELECT z FROM tile_cache WHERE layer = 'urban-components' AND z = %s", [z]).fetchall()
    assert kept == [{"z": z}]


def test_stale_render_is_not_cached(town_db):
    """A tile rendered before a write that commits later must not be stored (version guard)."""
    from civicgrid.db import connect

    with connect(town_db) as conn:
        conn.execute("SELECT tile_cache_put('pois', 1, 0, 0, 0.01, 0, '\\x00'::bytea)")
        conn.commit()
        conn.execute("UPDATE poi SET name = name || '·' WHERE id = 1")
        conn.commit()
        assert conn.execute("SELECT count(*) AS n FROM tile_cache WHERE layer = 'pois'").fetchone()["n"] == 0
        stored = conn.execute("SELECT tile_cache_put('pois', 1, 0, 0, 0.01, 0, '\\x00'::bytea) AS ok").fetchone()
        assert stored["ok"] is False


def test_tiled_layers_match_the_collection_registry():
    from civicgrid.layers.collections import COLLECTIONS
    from civicgrid.layers.tiles import LAYERS

    assert set(LAYERS) == {c.id for c in COLLECTIONS.values() if c.tiles}


def test_demo_town_tiles_stay_small(demo_url, monkeypatch):
    """On the demo town: every layer's z10 tile of the whole town < 500 KB; the basemap has named roads."""
    import time

    from civicgrid.db import connect
    from civicgrid.layers import tiles
    from civicgrid.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", demo_url)
    get_settings.cache_clear()
    app = Starlette(routes=[Mount("/ogc", routes=tiles.routes)], lifespan=state_lifespan)
    with connect(demo_url) as conn:
        town = conn.execute("SELECT ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT ST_Centroid(ST_Union(geom)) c FROM town) s").fetchone()
        ext = conn.execute("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1 "
                           "FROM (SELECT ST_Extent(geom) e FROM town) s").fetchone()
        z14 = tiles.densest_tile(conn, "urban-components", 14)
    # the whole town lies in one z10 tile
    assert tiles.lonlat_to_tile(ext["x0"], ext["y1"], 10) == tiles.lonlat_to_tile(ext["x1"], ext["y0"], 10)
    x, y = tiles.lonlat_to_tile(town["lon"], town["lat"], 10)
    with TestClient(app) as client:
        for layer in tiles.LAYERS:
            r = client.get(f"/ogc/collections/{layer}/tiles/WebMercatorQuad/10/{y}/{x}")
            assert r.status_code == 200 and len(r.content) < 500_000, layer
        basemap = decode(client.get(f"/ogc/tiles/WebMercatorQuad/10/{y}/{x}").content)
        assert {"road", "landuse", "community", "town"} <= set(basemap)
        assert any(f["properties"].get("name") for f in basemap["road"]["features"])
        started = time.perf_counter()
        r = client.get(f"/ogc/collections/urban-components/tiles/WebMercatorQuad/14/{z14[2]}/{z14[1]}")
        elapsed = time.perf_counter() - started
        assert r.status_code == 200 and len(r.content) < 500_000
        assert sum(f["properties"]["count"] for f in decode(r.content)["urban-components"]["features"]) >= z14[3]
        assert elapsed < 5
    get_settings.cache_clear()
