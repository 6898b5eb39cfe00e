"""Feeds the district syncs, keys scoped to collections, HTTP Basic with a password, desktop QGIS —
against one real `civicgrid serve` on a private copy of the demo town (module scope).

- the README's OWSLib sync example, run twice with an edit, an insert and a delete between: the
  second sync applies exactly those;
- a component edited from point to line is a deletion in urban-components-points' changes, an
  update in -lines; `civicgrid feeds prune` removes old tombstones, a `since` before the horizon is 410;
- ETag / If-None-Match → 304 on items and changes; bad feed parameters → 400 naming them;
- a key limited to one collection reaches it (items, changes) and nothing else of /ogc (403), its
  listing shows only it; the CLI and the admin API refuse unknown collections;
- HTTP Basic with user name + password reads (not writes), wrong ones are audited, the address is
  rate-limited (last: it leaves the address limited for a minute);
- Debian's python3-qgis opens `http://127.0.0.1:PORT/ogc` as typed and reads a public layer and one
  behind Basic auth, each with the count the server gives as numberMatched.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
from databases import REPO, copy_demo, drop_database, serving

from civicgrid.security import identity
from civicgrid.security.testing import Credentials

PASSWORD = "qgis-desk-pass-2026"


@pytest.fixture(scope="module")
def town(pg_admin_url, demo_url):
    url = copy_demo(pg_admin_url)
    with psycopg.connect(url, autocommit=True) as conn:
        from psycopg.rows import dict_row

        conn.row_factory = dict_row
        identity.add_user(conn, "desk.leader", ["leader"], password=PASSWORD)
        identity.add_user(conn, "desk.editor", ["gis_editor"], password=PASSWORD)
    try:
        with serving(url) as base:
            yield url, base
    finally:
        drop_database(pg_admin_url, url)


def _example():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- feed-sync-example -->\n```python\n(.*?)```\n<!-- /feed-sync-example -->", text, re.S)
    namespace: dict = {}
    exec(compile(code.group(1), "README.md feed-sync-example", "exec"), namespace)
    return namespace["sync"]


def test_readme_sync_example_applies_exactly_the_changes(town):
    url, base = town
    with psycopg.connect(url, autocommit=True) as conn:
        token = identity.create_key(_dict(conn), district_user(url), ["read"], 1, collections=["pois"])["token"]
    headers = {"Authorization": f"Bearer {token}"}
    sync = _example()
    store: dict = {}
    since, upserted, _ = sync(base + "/ogc", "pois", store, None, headers)
    total = httpx.get(f"{base}/ogc/collections/pois/items", params={"limit": 1}, timeout=30).json()["numberMatched"]
    assert len(store) == len(upserted) == total > 3
    with psycopg.connect(url, autocommit=True) as conn:
        edited, gone = [r[0] for r in conn.execute("SELECT id FROM poi ORDER BY id LIMIT 2")]
        conn.execute("UPDATE poi SET name = name || '（改）' WHERE id = %s", [edited])
        added = conn.execute("INSERT INTO poi (name, category, geom) SELECT '新增点位', category, geom FROM poi "
                             "WHERE id = %s RETURNING id", [edited]).fetchone()[0]
        conn.execute("DELETE FROM poi WHERE id = %s", [gone])
    since2, upserted, deleted = sync(base + "/ogc", "pois", store, since, headers)
    assert sorted(upserted) == sorted([edited, added]) and deleted == [gone]
    assert store[edited]["properties"]["name"].endswith("（改）") and gone not in store
    assert len(store) == total and since2 >= since
    # nothing happened since: a third sync applies nothing
    assert sync(base + "/ogc", "pois", store, since2, headers)[1:] == ([], [])


def _dict(conn):
    from psycopg.rows import dict_row

    conn.row_factory = dict_row
    return conn


def district_user(url) -> str:
    """A district_platform user of its own (the feed consumer)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not _dict(conn).execute("SELECT 1 FROM app_user WHERE username = 'feed.district'").fetchone():
            identity.add_user(conn, "feed.district", ["district_platform"])
    return "feed.district"


def test_etags_and_bad_feed_parameters(town):
    url, base = town
    admin = Credentials(url).headers("admin")
    items = f"{base}/ogc/collections/unit-grids/items"
    first = httpx.get(items, params={"limit": 5}, timeout=30)
    tag = first.headers["ETag"]
    again = httpx.get(items, params={"limit": 5}, headers={"If-None-Match": tag}, timeout=30)
    assert again.status_code == 304 and again.headers["ETag"] == tag and not again.content
    with psycopg.connect(url, autocommit=True) as conn:
        since = conn.execute("SELECT now()").fetchone()[0].isoformat()
    changes = f"{base}/ogc/collections/pois/changes"
    page = httpx.get(changes, params={"since": since}, timeout=30)
    assert page.status_code == 200 and page.json()["features"] == []
    assert httpx.get(changes, params={"since": since}, headers={"If-None-Match": page.headers["ETag"]},
                     timeout=30).status_code == 304
    with psycopg.connect(url, autocommit=True) as conn:
        codes = [r[0] for r in conn.execute(
            "INSERT INTO poi (name, category, geom) SELECT '临时点位', category, geom FROM poi "
            "ORDER BY id LIMIT 2 RETURNING id").fetchall()]
        conn.execute("DELETE FROM poi WHERE id = ANY(%s)", [codes])
    page2 = httpx.get(changes, params={"since": since, "limit": 1}, headers={"If-None-Match": page.headers["ETag"]}, timeout=30)
    assert page2.status_code == 200 and page2.headers["ETag"] != page.headers["ETag"]
    body = page2.json()
    assert len(body["features"]) == 1 and body["features"][0]["geometry"] is None
    rest = httpx.get(next(x["href"] for x in body["links"] if x["rel"] == "next"), timeout=30).json()
    assert sorted(f["id"] for f in body["features"] + rest["features"]) == sorted(codes)
    assert not [x for x in rest["links"] if x["rel"] == "next"]
    changed = httpx.get(f"{base}/ogc/collections/pois/items", params={"updated_since": since}, timeout=30).json()
    assert changed["features"] == []      # inserted and deleted since: only in the changes
    for path, params, field in [
        (items, {"updated_since": "yesterday"}, "updated_since"),
        (changes, {"since": "2026-13-01"}, "since"),
        (changes, {"limit": "0"}, "limit"),
        (changes, {"limit": "10001"}, "limit"),
        (changes, {"after": "-1"}, "after"),
        (changes, {"sincee": "2026-01-01"}, "sincee"),
        (f"{base}/ogc/collections/officer-latest/changes", {}, "collection_id"),
        (f"{base}/ogc/collections/officer-latest/items", {"updated_since": "2026-01-01T00:00:00Z"}, "updated_since"),
    ]:
        r = httpx.get(path, params=params, headers=admin, timeout=30)
        assert r.status_code == 400 and r.json()["field"] == field, (path, params, r.text)


def test_key_limited_to_collections(town):
    url, base = town
    with psycopg.connect(url, autocommit=True) as conn:
        token = identity.create_key(_dict(conn), district_user(url), ["read"], 1, collections=["pois"])["token"]
    key = {"Authorization": f"Bearer {token}"}
    listing = httpx.get(f"{base}/ogc/collections", params={"f": "json"}, headers=key, timeout=30).json()
    assert [c["id"] for c in listing["collections"]] == ["pois"]
    assert httpx.get(f"{base}/ogc/collections/pois/items?limit=1", headers=key, timeout=30).status_code == 200
    assert httpx.get(f"{base}/ogc/collections/pois/changes", headers=key, timeout=30).status_code == 200
    for path in ("/ogc/collections/unit-grids/items", "/ogc/collections/unit-grids/changes",
                 "/ogc/collections/urban-components/items", "/ogc/collections/cases/tiles/WebMercatorQuad/15/6186/13503",
                 "/ogc/collections/communities"):
        r = httpx.get(base + path, headers=key, timeout=30)
        assert r.status_code == 403 and r.json()["field"] == "collections", (path, r.text)
    # the same routes anonymously: public layers stay public
    assert httpx.get(f"{base}/ogc/collections/unit-grids/items?limit=1", timeout=30).status_code == 200
    run = subprocess.run([sys.executable, "-m", "civicgrid.cli", "key", "create", "feed.district", "--scope", "read",
                          "--collections", "pois,no-such-layer"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "DATABASE_URL": url})
    assert run.returncode == 1 and "no-such-layer" in run.stderr, run.stderr
    admin = Credentials(url).headers("admin")
    bad = httpx.post(f"{base}/api/admin/keys", headers=admin, timeout=30,
                     json={"username": "feed.district", "scopes": ["read"], "collections": ["nope"]})
    assert bad.status_code == 400 and bad.json()["field"] == "collections"
    made = httpx.post(f"{base}/api/admin/keys", headers=admin, timeout=30,
                      json={"username": "feed.district", "scopes": ["read"], "collections": ["pois", "cases"]}).json()
    listed = httpx.get(f"{base}/api/admin/keys", headers=admin, timeout=30).json()["keys"]
    assert next(k for k in listed if k["prefix"] == made["prefix"])["collections"] == ["pois", "cases"]


def _matched(base, collection, **kw) -> int:
    return httpx.get(f"{base}/ogc/collections/{collection}/items", params={"limit": 1}, timeout=60, **kw).json()["numberMatched"]


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no Debian python3")
def test_qgis_opens_the_typed_url_public_and_basic_auth_layers(town, tmp_path):
    url, base = town
    probe = subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("python3-qgis is not importable (scripts/setup.sh test installs it): " + probe.stderr[-500:])
    run = subprocess.run(["/usr/bin/python3", str(Path(__file__).with_name("qgis_client.py")), base, "pois",
                          "urban-components", "desk.leader", PASSWORD, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    layers = {d["layer"]: d for d in map(json.loads, [x for x in run.stdout.splitlines() if x.startswith("{")])}
    assert layers["pois"]["valid"] and layers["urban-components"]["valid"], layers
    assert layers["pois"]["read"] == _matched(base, "pois"), layers
    assert layers["urban-components"]["read"] == _matched(base, "urban-components", auth=("desk.leader", PASSWORD)), layers


def test_a_component_changing_kind_is_a_deletion_of_its_old_typed_view(town):
    url, base = town
    with psycopg.connect(url, autocommit=True) as conn:
        fid, version, x, y = conn.execute(
            "SELECT id, version, ST_X(geom), ST_Y(geom) FROM component WHERE ST_Dimension(geom) = 0 "
            "AND GeometryType(geom) = 'POINT' ORDER BY id LIMIT 1").fetchone()
        since = conn.execute("SELECT now()").fetchone()[0].isoformat()
        # a class's kind is data (the id carries the class, so a component keeps its class): the
        # catalog redraws this class as lines, then the editor redraws the component through the API
        kind = conn.execute("UPDATE code_catalog k SET geometry_kind = 'line' FROM component c WHERE c.id = %s "
                            "AND k.kind = 'component' AND k.standard = c.standard AND k.code = c.type_code "
                            "RETURNING k.standard, k.code", [fid]).fetchone()
    editor = Credentials(url).headers("gis_editor")
    try:
        r = httpx.patch(f"{base}/ogc/collections/urban-components/items/{fid}", timeout=30, content=json.dumps(
            {"geometry": {"type": "LineString", "coordinates": [[x, y], [x + 0.0002, y + 0.0001]]}}),
            headers={**editor, "Content-Type": "application/merge-patch+json", "If-Match": f'"{version}"'})
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE code_catalog SET geometry_kind = 'point' WHERE kind = 'component' AND standard = %s "
                         "AND code = %s", kind)
    assert r.status_code == 200, r.text

    def changes(collection):
        return [f["id"] for f in httpx.get(f"{base}/ogc/collections/{collection}/changes", params={"since": since},
                                           headers=editor, timeout=30).json()["features"]]

    def changed(collection):
        return [f["id"] for f in httpx.get(f"{base}/ogc/collections/{collection}/items", timeout=30,
                                           params={"updated_since": since}, headers=editor).json()["features"]]

    assert changes("urban-components-points") == [fid] and changed("urban-components-points") == []
    assert changes("urban-components-lines") == [] and changed("urban-components-lines") == [fid]
    assert changes("urban-components") == [] and changed("urban-components") == [fid]


def test_prune_old_tombstones_and_410_before_the_horizon(town):
    url, base = town
    with psycopg.connect(url, autocommit=True) as conn:
        old, recent = [r[0] for r in conn.execute(
            "INSERT INTO poi (name, category, geom) SELECT '待删点位', category, geom FROM poi "
            "ORDER BY id LIMIT 2 RETURNING id").fetchall()]
        conn.execute("DELETE FROM poi WHERE id IN (%s, %s)", [old, recent])
        conn.execute("UPDATE feed_tombstone SET deleted_at = now() - interval '40 days' "
                     "WHERE source = 'poi' AND feature_id = %s", [str(old)])
        before = conn.execute("SELECT count(*) FROM feed_tombstone WHERE deleted_at < now() - interval '30 days'"
                              ).fetchone()[0]
        week_ago, long_ago = conn.execute("SELECT now() - interval '7 days', now() - interval '41 days'").fetchone()
    run = subprocess.run([sys.executable, "-m", "civicgrid.cli", "feeds", "prune", "--older-than", "30"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "DATABASE_URL": url})
    assert run.returncode == 0, run.stderr
    assert f"removed {before} tombstones older than 30 days" in run.stdout and "poi\t" in run.stdout, run.stdout
    changes = f"{base}/ogc/collections/pois/changes"
    kept = httpx.get(changes, params={"since": week_ago.isoformat()}, timeout=30)
    listed = [f["id"] for f in kept.json()["features"]]
    assert kept.status_code == 200 and recent in listed and old not in listed
    gone = httpx.get(changes, params={"since": long_ago.isoformat()}, timeout=30)
    body = gone.json()
    assert gone.status_code == 410 and body["code"] == "Gone" and body["field"] == "since", gone.text
    assert "re-sync" in body["description"] and body["horizon"] > long_ago.isoformat()[:10]
    # a full sync (no since) still works and lists what is kept
    assert recent in [f["id"] for f in httpx.get(changes, timeout=30).json()["features"]]


def test_basic_with_a_password_reads_is_audited_and_rate_limited(town):
    url, base = town
    items = f"{base}/ogc/collections/urban-components/items"
    assert httpx.get(items, params={"limit": 1}, timeout=30).status_code == 401
    ok = httpx.get(items, params={"limit": 1}, auth=("desk.leader", PASSWORD), timeout=30)
    assert ok.status_code == 200 and ok.json()["numberReturned"] == 1
    # an editor's password reads only: a browser resends Basic credentials by itself (no CSRF token)
    write = httpx.post(f"{base}/ogc/collections/pois/items", auth=("desk.editor", PASSWORD), timeout=30,
                       headers={"Content-Type": "application/geo+json"}, content=b"{}")
    assert write.status_code == 403 and "only reads" in write.json()["description"]
    wrong = httpx.get(items, params={"limit": 1}, auth=("desk.leader", "not-the-password"), timeout=30)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT action, detail->>'reason' FROM audit_log WHERE target = 'user:desk.leader' "
                            "AND detail->>'via' = 'basic' ORDER BY id").fetchall()
    assert ("login.success", None) in rows and ("login.failure", "wrong password") in rows
    # 30 password checks a minute per address: the counter filled in SQL (30 argon2 runs cost seconds),
    # then the next try is refused before any check; filled again if the minute turned meanwhile
    for _ in range(2):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT rate_hit('auth.basic:127.0.0.1', 60) FROM generate_series(1, 30)")
        refused = httpx.get(items, params={"limit": 1}, auth=("nobody.here", "guess"), timeout=30)
        if refused.status_code == 429:
            break
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60", refused.text
