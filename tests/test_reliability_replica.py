"""Hot standby: the read-only routes read from a streaming standby of a private cluster with row
security intact, a client's reads after its own write see it (and its ETags) while the standby
lags, reads fall back to the primary when the standby is down; and the drill — the primary killed
with SIGKILL under writes, the standby promoted, the acknowledged rows counted on it — with
asynchronous replication and with synchronous commit."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from databases import copy_demo, drop_database

from civicgrid.db import replica as rep
from civicgrid.db.cluster import Cluster
from civicgrid.errors import SetupError
from civicgrid.settings import Settings
from civicgrid.testing import app_client, free_port

GEOJSON = "application/geo+json"


@dataclass
class Pair:
    settings: Settings
    primary: Cluster
    standby: Cluster
    url: str = ""            # the town's database on the primary, and on the standby
    standby_url: str = ""


@contextlib.contextmanager
def standby_of(primary: Cluster, synchronous: bool = False):
    """A streaming standby of a running private cluster (`civicgrid db replica start`), removed after."""
    settings = Settings(database_url=None, data_dir=primary.data_dir, pg_port=primary.port)
    port = free_port()
    try:
        yield Pair(settings, primary, rep.start(settings, port, synchronous=synchronous))
    finally:
        with contextlib.suppress(SetupError):
            rep.standby(settings, port).stop()
        shutil.rmtree(primary.data_dir / "replica", ignore_errors=True)


@pytest.fixture(scope="module")
def town(pg, demo_url, pg_admin_url):
    """The session's cluster with a private copy of the demo town, and a standby of it."""
    url = copy_demo(pg_admin_url)
    try:
        with standby_of(pg) as p:
            p.url, p.standby_url = url, url.rsplit(":", 1)[0] + f":{p.standby.port}/" + url.rsplit("/", 1)[1]
            yield p
    finally:
        drop_database(pg_admin_url, url)


def _caught_up(p: Pair, timeout: float = 10) -> None:
    with psycopg.connect(p.url, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with psycopg.connect(p.standby_url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s", [lsn]).fetchone()[0]:
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.02)


def _replay(p: Pair, on: bool) -> None:
    with psycopg.connect(p.standby_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()" if on else "SELECT pg_wal_replay_pause()")


def test_read_routes_use_the_standby_with_row_security_and_read_their_own_writes(town, monkeypatch, tmp_path):
    monkeypatch.setenv("CIVICGRID_DATABASE_READ_URL", town.standby_url)
    monkeypatch.setenv("CIVICGRID_READ_MAX_LAG", "600")   # the paused replay below must not switch it off
    with app_client(town.url, tmp_path) as client:
        served = client.app.state.civicgrid.standby.served
        creds = client.creds
        owner, other = creds.headers("dispatcher", "replica.owner"), creds.headers("dispatcher", "replica.other")
        editor, reader = creds.headers("gis_editor", "replica.gis"), creds.headers("leader", "replica.reader")
        _caught_up(town)
        with psycopg.connect(town.url) as conn:
            poi, lon, lat = conn.execute("SELECT id, ST_X(geom), ST_Y(geom) FROM poi ORDER BY id LIMIT 1").fetchone()
        from civicgrid.layers.tiles import lonlat_to_tile

        x, y = lonlat_to_tile(lon, lat, 16)
        tile = f"/ogc/collections/pois/tiles/WebMercatorQuad/16/{y}/{x}"

        # every read-only route reads from the standby
        before = dict(served)
        assert client.get("/ogc/collections/pois/items", params={"limit": 5}, headers=reader).status_code == 200
        first = client.get(tile, headers=reader)
        assert first.status_code == 200 and first.headers["etag"]
        assert client.get("/api/search", params={"q": "社区"}, headers=reader).status_code == 200
        assert client.get("/api/labels", headers=reader).status_code == 200
        assert served["standby"] - before["standby"] == 4 and served["primary"] == before["primary"]

        # the standby stops replaying: it lags behind every write from now on
        _replay(town, False)
        try:
            plan = client.post("/api/plans", json={"name": "只给自己", "visibility": "private"}, headers=owner)
            assert plan.status_code == 201 and plan.headers["x-civicgrid-lsn"]
            client.cookies.clear()   # the key is remembered by the worker too
            feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                       "properties": {"plan_id": plan.json()["id"], "kind": "point", "label": "仅自己"}}
            assert client.post("/ogc/collections/annotations/items", json=feature,
                               headers={**owner, "Content-Type": GEOJSON}).status_code == 201
            client.cookies.clear()
            # the owner reads its shape at once (from the primary); the other sees nothing either way
            mine = client.get("/ogc/collections/annotations/items", headers=owner).json()["features"]
            assert [f["properties"]["label"] for f in mine] == ["仅自己"]
            assert client.get("/ogc/collections/annotations/items", headers=other).json()["features"] == []

            # an edit bumps the POI layer's version: the editor's next tile is new, not a 304
            item = client.get(f"/ogc/collections/pois/items/{poi}", headers=editor)
            edit = client.patch(f"/ogc/collections/pois/items/{poi}",
                                content=json.dumps({"properties": {"name": "改名的兴趣点"}}),
                                headers={**editor, "Content-Type": "application/merge-patch+json",
                                         "If-Match": item.headers["etag"]})
            assert edit.status_code == 200, edit.text
            assert client.cookies.get("cg_lsn") == edit.headers["x-civicgrid-lsn"]
            mine = client.get(tile, headers={"If-None-Match": first.headers["etag"]})   # the cookie: primary
            assert mine.status_code == 200 and mine.headers["etag"] != first.headers["etag"]
            client.cookies.clear()
            again = client.get(tile, headers={**editor, "If-None-Match": first.headers["etag"]})   # the key
            assert again.status_code == 200 and again.headers["etag"] == mine.headers["etag"]
            # a client that wrote nothing reads the lagging standby: the version it was shown, consistently
            assert client.get(tile, headers={**reader, "If-None-Match": first.headers["etag"]}).status_code == 304
        finally:
            _replay(town, True)
        _caught_up(town)
        # caught up: the owner's reads go back to the standby, row security decides there as well
        before = dict(served)
        mine = client.get("/ogc/collections/annotations/items", headers=owner).json()["features"]
        assert [f["properties"]["label"] for f in mine] == ["仅自己"]
        assert client.get("/ogc/collections/annotations/items", headers=other).json()["features"] == []
        assert client.get("/ogc/collections/annotations/items").status_code == 401   # staff only
        assert served["standby"] - before["standby"] == 2 and served["primary"] == before["primary"]

        # the standby stops: reads answer from the primary, never a 5xx
        town.standby.stop()
        try:
            for _ in range(3):
                assert client.get("/ogc/collections/pois/items", params={"limit": 5}, headers=reader).status_code == 200
                assert client.get(tile, headers=reader).status_code == 200
                assert client.get("/api/search", params={"q": "社区"}, headers=reader).status_code == 200
            assert served["primary"] - before["primary"] == 9
        finally:
            town.standby.start()


def _lose(cluster: Cluster) -> None:
    """The machine is gone: SIGKILL to the postmaster and every process of the cluster at once (a
    postmaster killed alone leaves its backends serving their connections for a while)."""
    postmaster = cluster._pid()
    children = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(proc.name))
    for pid in (postmaster, *children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _drill(p: Pair, clients: int = 4, acked_before_kill: int = 400) -> tuple[int, int]:
    """Clients insert rows, each acknowledged when its commit returns; SIGKILL of the primary once
    `acked_before_kill` are in, the standby promoted: (acknowledged, of those present)."""
    with psycopg.connect(p.primary.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE drill (id bigint PRIMARY KEY)")
    acked: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def insert(n: int) -> None:
        with contextlib.suppress(psycopg.Error), psycopg.connect(p.primary.dsn, autocommit=True) as conn:
            for i in range(n, 10**9, clients):
                conn.execute("INSERT INTO drill (id) VALUES (%s)", [i])
                with lock:
                    acked.append(i)
                    if len(acked) >= acked_before_kill:
                        enough.set()

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    assert enough.wait(60), "the inserts did not get going"
    _lose(p.primary)
    for t in threads:
        t.join(30)
    promoted = rep.promote(p.settings, p.standby.port)
    with psycopg.connect(promoted.dsn, autocommit=True) as conn:
        have = {r[0] for r in conn.execute("SELECT id FROM drill")}
        conn.execute("INSERT INTO drill (id) VALUES (-1)")   # a primary now
    return len(acked), len(set(acked) & have)


@pytest.mark.parametrize("synchronous", [False, True], ids=["async", "synchronous"])
def test_promote_after_the_primary_is_killed(synchronous, cluster_templates):
    base = Path(tempfile.mkdtemp(prefix="civicgrid-test-replica-"))
    primary = cluster_templates.copy(base / "data")
    try:
        primary.start()
        with standby_of(primary, synchronous) as p:
            with psycopg.connect(p.standby.dsn, autocommit=True) as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    conn.execute("CREATE TABLE nope (id int)")
            sender = rep.status(p.settings, p.standby.port)["senders"][0]
            assert sender["state"] == "streaming" and sender["sync_state"] == ("sync" if synchronous else "async")
            assert rep.running_dsn(p.settings) == p.standby.dsn   # what a server finds and reads from
            acked, kept = _drill(p)
            assert rep.running_dsn(p.settings) is None   # promoted: a primary, not a standby to read from
    finally:
        with contextlib.suppress(SetupError):   # a killed primary leaves nothing to stop
            primary.stop()
        shutil.rmtree(base, ignore_errors=True)
    mode = "synchronous commit" if synchronous else "asynchronous replication"
    print(f"\nreplica drill ({mode}): {acked} acknowledged, {kept} on the promoted standby, {acked - kept} lost")
    if synchronous:
        assert kept == acked
    else:
        assert kept <= acked
