"""Clients nobody here wrote, against a live `civicgrid serve`: GDAL (ogr2ogr, ogrinfo), OWSLib, ogctests.

Data: the small synthetic town of civicgrid.layers.sample (every collection non-empty; 1,200
officer positions, so the whole officer-positions collection is exported).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from databases import drop_database, migrated_database, start_server

from civicgrid.security.testing import Credentials

# collection → SQL giving every feature id as text
ID_SQL = {
    "urban-components": "SELECT id FROM component",
    "unit-grids": "SELECT code FROM unit_grid",
    "responsibility-grids": "SELECT code FROM responsibility_grid",
    "communities": "SELECT code FROM community",
    "town-boundary": "SELECT code FROM town",
    "officer-positions": "SELECT officer_id || '-' || (extract(epoch FROM recorded_at) * 1000000)::bigint "
                         "FROM officer_position",
    "officer-latest": "SELECT officer_id::text FROM ogc_officer_latest",
    "cases": "SELECT id::text FROM cases",
    "pois": "SELECT id::text FROM poi",
}

# ogctests features/core tests that need the internet (they resolve $refs on schemas.opengis.net)
NEEDS_INTERNET = ["test_ast18"]
# ogctests features/filtering tests that are wrong for any server (layers/README.md says why, test by test)
WRONG_FILTERING_TESTS = ["test_ct5", "test_ct7", "test_ct8", "test_ct10"]

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed")


@pytest.fixture(scope="module")
def sample_server(pg_admin_url):
    from civicgrid.layers.sample import load_sample

    url = migrated_database(pg_admin_url)
    load_sample(url)
    add_line_and_polygon_components(url)
    proc, base = start_server(url)
    yield url, base
    proc.terminate()
    proc.wait(10)
    drop_database(pg_admin_url, url)


def add_line_and_polygon_components(url: str) -> None:
    """Beside the sample's points: lines (one a MultiLineString) and polygons, inside unit grids."""
    with psycopg.connect(url) as conn:
        conn.execute("""
            INSERT INTO component (id, type_code, name, dept_code, dept_name, unit_grid_code, initial_date, geom)
            SELECT '110113' || k.code || lpad(n::text, 6, '0'), k.code, k.kind || n, d.code, d.name, g.code,
                   '2024-01-01', CASE WHEN k.kind = 'line' AND n = 1 THEN ST_Multi(k.shape) ELSE k.shape END
            FROM generate_series(1, 3) n
            JOIN LATERAL (SELECT * FROM unit_grid ORDER BY code OFFSET n LIMIT 1) g ON true
            CROSS JOIN LATERAL (SELECT c.geometry_kind AS kind, min(c.code) AS code,
                    CASE c.geometry_kind
                        WHEN 'line' THEN ST_SetSRID(ST_MakeLine(ST_PointOnSurface(g.geom),
                                                    ST_Translate(ST_PointOnSurface(g.geom), 0.0005, 0.0002)), 4490)
                        ELSE ST_SetSRID(ST_Buffer(ST_PointOnSurface(g.geom), 0.0003, 2), 4490) END AS shape
                FROM code_catalog c WHERE c.kind = 'component' AND c.standard = 'GB/T 47678.5-2026'
                AND c.geometry_kind IN ('line', 'polygon') GROUP BY c.geometry_kind) k
            CROSS JOIN (SELECT code, name FROM department LIMIT 1) d""")


def gdal_auth(url: str, tmp_path: Path, role: str = "leader") -> dict:
    """GDAL sends the API key from a header file (GDAL_HTTP_HEADER_FILE works in GDAL 3.6, which has
    no GDAL_HTTP_HEADERS yet) — the way a QGIS/GDAL user reads the protected collections."""
    headers = tmp_path / "gdal-headers.txt"
    headers.write_text("".join(f"{k}: {v}\n" for k, v in Credentials(url).headers(role).items()))
    return {**os.environ, "GDAL_HTTP_HEADER_FILE": str(headers)}


def ids_in_postgis(url: str, cid: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {str(r[0]) for r in conn.execute(ID_SQL[cid]).fetchall()}


def test_ogr2ogr_exports_every_collection(sample_server, tmp_path):
    url, base = sample_server
    out = tmp_path / "civicgrid.gpkg"
    run = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc"],
                         capture_output=True, text=True, timeout=300, env=gdal_auth(url, tmp_path))
    assert run.returncode == 0, run.stderr
    db = sqlite3.connect(out)
    try:
        tables = {r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")}
        assert set(ID_SQL) <= tables
        for cid in ID_SQL:
            cols = [r[1] for r in db.execute(f'PRAGMA table_info("{cid}")')]
            expected = ids_in_postgis(url, cid)
            if "id" in cols:
                got = [str(r[0]) for r in db.execute(f'SELECT "id" FROM "{cid}"')]
            else:  # integer ids become the GeoPackage fid
                got = [str(r[0]) for r in db.execute(f'SELECT fid FROM "{cid}"')]
            assert len(got) == len(expected) > 0, cid
            assert set(got) == expected, cid
    finally:
        db.close()


@pytest.mark.parametrize("kind, dimension, gpkg_type", [
    ("points", 0, "MULTIPOINT"), ("lines", 1, "MULTILINESTRING"), ("polygons", 2, "MULTIPOLYGON")])
def test_typed_component_layers_export_to_geopackage_without_warnings(sample_server, tmp_path, kind, dimension,
                                                                      gpkg_type):
    """GDAL types each component layer by one geometry and writes a conformant GeoPackage."""
    url, base = sample_server
    cid = f"urban-components-{kind}"
    out = tmp_path / f"{cid}.gpkg"
    run = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc", cid],
                         capture_output=True, text=True, timeout=120, env=gdal_auth(url, tmp_path))
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr, run.stderr
    with psycopg.connect(url) as conn:
        expected = {r[0] for r in conn.execute("SELECT id FROM component WHERE ST_Dimension(geom) = %s", [dimension])}
    db = sqlite3.connect(out)
    try:
        assert db.execute("SELECT geometry_type_name FROM gpkg_geometry_columns").fetchone()[0] == gpkg_type
        assert {r[0] for r in db.execute(f'SELECT "id" FROM "{cid}"')} == expected
        assert len(expected) >= 3
    finally:
        db.close()


def test_ogrinfo_fetches_one_feature_by_id(sample_server):
    url, base = sample_server
    with psycopg.connect(url) as conn:
        fid, name = conn.execute("SELECT id, name FROM poi ORDER BY id DESC LIMIT 1").fetchone()
    run = subprocess.run(["ogrinfo", f"OAPIF:{base}/ogc", "pois", "-fid", str(fid), "--debug", "on"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"OGRFeature(pois):{fid}" in run.stdout and name in run.stdout
    # GDAL 3.6 really asked for the odd URL shape the middleware repairs
    assert f"items?f=json/{fid}" in run.stderr


def test_ogcapi_driver_opens_a_tiled_collection_by_its_items(sample_server):
    """GDAL 3.6's OGCAPI driver cannot read vector tiles (layers/README.md): it is not shown the tilesets
    link, so `OGCAPI:` with the default API opens the tiled collection's items instead of nothing."""
    url, base = sample_server
    collection = f"OGCAPI:{base}/ogc/collections/unit-grids"
    run = subprocess.run(["ogrinfo", "-ro", "-so", collection, "unit-grids"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    with psycopg.connect(url) as conn:
        count = conn.execute("SELECT count(*) FROM unit_grid").fetchone()[0]
    assert f"Feature Count: {count}" in run.stdout and count > 0, run.stdout
    run = subprocess.run(["ogrinfo", "-ro", "-oo", "API=TILES", collection], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0 and "API TILES requested, but not available" in run.stderr


def test_owslib_reads_features_queryables_and_filters(sample_server):
    from owslib.ogcapi.features import Features

    url, base = sample_server
    api = Features(base + "/ogc", headers=Credentials(url).headers("leader"))
    ids = {c["id"] for c in api.collections()["collections"]}
    assert set(ID_SQL) <= ids
    fc = api.collection_items("urban-components", limit=7)
    assert fc["numberReturned"] == 7 and len(fc["features"]) == 7
    q = api.collection_queryables("urban-components")
    assert "破损" in q["properties"]["status"]["enum"]
    fc = api.collection_items("urban-components", filter="status = '破损'", limit=1000)
    with psycopg.connect(url) as conn:
        broken = conn.execute("SELECT count(*) FROM component WHERE status = '破损'").fetchone()[0]
    assert fc["numberReturned"] == broken > 0
    assert all(f["properties"]["status"] == "破损" for f in fc["features"])


def test_ogctests_features_core(sample_server, tmp_path):
    url, base = sample_server
    report = tmp_path / "ogctests.xml"
    deselect = " and ".join(f"not {name}" for name in NEEDS_INTERNET)
    code = ("import sys; from ogctests.main import run_ogctests; "
            f"sys.exit(run_ogctests('features/core', {base + '/ogc'!r}, "
            f"['-q', '-p', 'no:cacheprovider', '-k', {deselect!r}, '--junitxml', {str(report)!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


def test_ogctests_features_filtering(sample_server, tmp_path):
    """Queryables, queryables as query parameters, CQL2 filters: what ogctests 0.1.15 can test correctly."""
    url, base = sample_server
    report = tmp_path / "filtering.xml"
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("ogctests_filtering.py")), base + "/ogc",
                          str(report), *WRONG_FILTERING_TESTS], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stdout[-4000:]
    assert "6 passed" in run.stdout and " failed" not in run.stdout, run.stdout[-2000:]


def test_ogr2ogr_exports_the_demo_town(demo_url, live_server, tmp_path):
    """The session demo town (scale 0.05, ~100k officer positions) through `civicgrid serve`.

    Debian's GDAL 3.6 pages 10 features at a time unless told otherwise (GDAL ≥ 3.8 reads the
    advertised maximum): PAGE_SIZE=10000 is the client option a QGIS/GDAL user sets.
    """
    out = tmp_path / "demo.gpkg"
    run = subprocess.run(["ogr2ogr", "-oo", "PAGE_SIZE=10000", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc"],
                         capture_output=True, text=True, timeout=600, env=gdal_auth(demo_url, tmp_path))
    assert run.returncode == 0, run.stderr
    db = sqlite3.connect(out)
    try:
        for cid in ID_SQL:
            cols = [r[1] for r in db.execute(f'PRAGMA table_info("{cid}")')]
            column = '"id"' if "id" in cols else "fid"
            got = [str(r[0]) for r in db.execute(f'SELECT {column} FROM "{cid}"')]
            expected = ids_in_postgis(demo_url, cid)
            assert len(got) == len(expected), cid
            assert set(got) == expected, cid
    finally:
        db.close()
