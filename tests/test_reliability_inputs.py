"""No client input crashes the server or answers 5xx: each case over HTTP against a real
`civicgrid serve` subprocess (live_server), which must still be up — on the same keep-alive
connection — after the refusal."""
from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

import httpx
import pytest

from civicgrid.security.testing import Credentials


@pytest.fixture(scope="module")
def admin(demo_url):
    return Credentials(demo_url).headers("admin")


def _conn(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def exchange(conn, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def assert_refused_and_alive(base: str, method: str, path: str, body: bytes | None = None,
                             headers: dict | None = None, field: str | None = None, status: int = 400):
    """The request is refused with `status` naming `field`; the same connection then serves a health check."""
    conn = _conn(base)
    try:
        code, head, data = exchange(conn, method, path, body, headers)
        assert code == status, (code, data[:300])
        doc = json.loads(data)
        assert doc["code"] and doc["description"]
        if field:
            assert doc.get("field") == field, doc
        assert head.get("connection", "").lower() != "close"
        code, _, data = exchange(conn, "GET", "/api/health/live")   # same socket: keep-alive held
        assert code == 200, data
    finally:
        conn.close()


ITEMS = "/ogc/collections/pois/items"


def test_deep_cql2_text_is_refused_and_the_server_lives(live_server):
    """2,000 nested parentheses used to overflow the native parser's stack (segfault)."""
    deep = "(" * 2000 + "id=1" + ")" * 2000
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?filter={quote(deep)}", field="filter")
    nots = "NOT " * 800 + "id=1"
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?filter={quote(nots)}", field="filter")
    long = " OR ".join(f"id={n}" for n in range(1700))
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?filter={quote(long)}", field="filter")
    # a reasonable filter still works
    r = httpx.get(live_server + ITEMS, params={"filter": "((id=1 OR id=2) AND NOT (id=3))"})
    assert r.status_code == 200 and len(r.json()["features"]) == 2


def test_deep_cql2_json_is_refused(live_server, admin):
    deep: dict = {"op": "=", "args": [{"property": "id"}, 1]}
    for _ in range(200):
        deep = {"op": "not", "args": [deep]}
    assert_refused_and_alive(live_server, "POST", ITEMS, json.dumps(deep).encode(),
                             {**admin, "Content-Type": "application/query-cql-json"}, field="filter")


def test_nul_and_invalid_utf8(live_server, admin):
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?filter=name%3D%27a%00%27", field="filter")
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?filter=name%3D%27a%FF%27", field="filter")
    hdr = {**admin, "Content-Type": "application/json"}
    body = json.dumps({"channel": "hotline", "description": "井盖\u0000丢失", "lon": 116.6, "lat": 40.1}).encode()
    assert_refused_and_alive(live_server, "POST", "/api/cases", body, hdr, field="description")
    assert_refused_and_alive(live_server, "POST", "/api/cases", b'{"description": "\xff\xfe"}', hdr, field="body")
    assert_refused_and_alive(live_server, "POST", "/api/auth/login", b'{"username": "a\xc3", "password": "x"}',
                             {"Content-Type": "application/json"}, field="body")


def test_json_depth_and_size(live_server, admin):
    hdr = {**admin, "Content-Type": "application/json"}
    assert_refused_and_alive(live_server, "POST", "/api/cases", b"[" * 100_000, hdr, field="body")
    assert_refused_and_alive(live_server, "POST", "/ogc/processes/heatmap/execution", b"[" * 100_000, hdr,
                             field="body")
    assert_refused_and_alive(live_server, "POST", "/api/cases", b'{"a": "' + b"x" * 3_000_000 + b'"}', hdr,
                             status=413)


@pytest.mark.parametrize("body, field", [(b"[null,null]", "body"), (b"true", "body"), (b'"x"', "body"),
                                         (b"3", "body"), (b'{"inputs": [1]}', "inputs"), (b"{", "body"),
                                         # pygeoapi indexed these as dicts: 500s, found by schemathesis
                                         (b'{"inputs": {}, "subscriber": [1]}', "subscriber"),
                                         (b'{"inputs": {}, "outputs": "x"}', "outputs")])
def test_process_execution_body_must_be_an_object(live_server, admin, body, field):
    assert_refused_and_alive(live_server, "POST", "/ogc/processes/heatmap/execution", body,
                             {**admin, "Content-Type": "application/json"}, field=field)


@pytest.mark.parametrize("fmt", ["json", "html", "jsonld", "csv"])
def test_every_items_format_validates_like_json(live_server, admin, fmt):
    assert_refused_and_alive(live_server, "GET", f"/ogc/collections/cases/items?f={fmt}&bbox=0,0,999,999",
                             headers=admin, field="bbox")
    assert_refused_and_alive(live_server, "GET", f"{ITEMS}?f={fmt}&filter=nosuchprop%3D1", field="filter")


def test_every_items_format_applies_the_filter(live_server):
    everything = httpx.get(live_server + ITEMS, params={"limit": 1000}).json()["numberReturned"]
    assert everything > 3
    params = {"filter": "id IN (1, 2, 3)", "limit": 100}
    assert len(httpx.get(live_server + ITEMS, params={**params, "f": "json"}).json()["features"]) == 3
    csv = httpx.get(live_server + ITEMS, params={**params, "f": "csv"})
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 1 + 3
    ld = httpx.get(live_server + ITEMS, params={**params, "f": "jsonld"})
    assert ld.status_code == 200 and len(ld.json()["features"]) == 3
    html = httpx.get(live_server + ITEMS, params={**params, "f": "html"})
    assert html.status_code == 200 and html.text.count("/ogc/collections/pois/items/") < everything
    assert httpx.get(live_server + ITEMS, params={"f": "xml"}).status_code == 400


def test_errors_from_the_one_table(live_server, admin):
    # a read-only collection refuses writes with 405 and Allow; an unknown POST type is a 415
    r = httpx.post(live_server + "/ogc/collections/officer-positions/items", headers={
        **admin, "Content-Type": "application/geo+json"}, content=b'{"type": "Feature"}')
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    r = httpx.post(live_server + ITEMS, headers={**admin, "Content-Type": "text/plain"}, content=b"x")
    assert r.status_code == 415 and r.json()["field"] == "Content-Type"


def test_a_tile_beyond_the_matrix_set_says_so(live_server):
    r = httpx.get(f"{live_server}/ogc/collections/pois/tiles/WebMercatorQuad/30/1/1")
    assert r.status_code == 400 and r.json()["field"] == "tileMatrix"
    assert "beyond the tile matrix set WebMercatorQuad" in r.json()["description"]


def test_a_shapefile_zip_without_its_index_names_the_missing_file(tmp_path):
    import zipfile

    from civicgrid.errors import InvalidInput
    from civicgrid.survey.reader import check_shapefile_zip

    path = tmp_path / "roads.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/roads.shp", b"\0" * 100)
        zf.writestr("data/roads.dbf", b"\0" * 100)
    with pytest.raises(InvalidInput) as err:
        check_shapefile_zip(path)
    assert "roads.shx" in err.value.message and str(tmp_path) not in err.value.message
    assert err.value.field == "file"
