"""Processes on a tiny hand-made town (processes/synthetic.py): expected values worked out by hand
(see the comments) or by an independent method (pyproj + numpy, pure-Python Gi*).

The town: x 470 000–472 000, y 4 440 000–4 441 000 (EPSG:4548); community 1 is the west half,
community 2 the east half; unit grids are 200 m squares, row 0 at the north. Officer 1 holds
community 1, officer 2 community 2.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pyproj import Transformer

from civicgrid.db import connect
from civicgrid.processes import synthetic as S
from civicgrid.processes.base import InvalidProcessInput
from civicgrid.processes.cluster import ClusterProcessor
from civicgrid.processes.evaluation import AreaEvaluationProcessor
from civicgrid.processes.heatmap import HeatmapProcessor, rollup_window
from civicgrid.processes.hotspots import HotspotsProcessor, gi_star
from civicgrid.processes.patrol import PatrolCoverageProcessor, TrackProcessor

CST = timezone(timedelta(hours=8))


def at(month, day, hour=0, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


G1 = (470150, 4440850)    # unit grid 110113004001001 (community 1, row 0, col 0)
G2 = (470350, 4440850)    # 110113004001002
H1 = (471150, 4440850)    # 110113004002001 (community 2)


def build_cases(conn, officers, depts):
    o1, o2 = officers
    d1, d2 = depts
    # A: patrol by o1, filed, dispatched to D1, handled before its deadline, closed. Check took 1 h.
    S.add_case(conn, *G1, reported_at=at(3, 2, 8), reporter_officer_id=o1, officer_id=o1, department_code=d1, state="closed",
               events=[("report", at(3, 2, 8), "reported"), ("file", at(3, 2, 8, 30), "filed"),
                       ("dispatch", at(3, 2, 9), "dispatched", {"deadline_at": at(3, 3, 12).isoformat(), "department_code": d1}),
                       ("feedback", at(3, 3, 10), "handled"), ("check_pass", at(3, 3, 11), "closed")])
    # B: public report, verified late (3 h), handled late, reworked (checked in 1 h), handled again,
    #    closed after a late check (3 h).
    S.add_case(conn, *G1, reported_at=at(3, 5, 8), channel="public", officer_id=o1, department_code=d1, state="closed",
               events=[("report", at(3, 5, 9), "verifying"), ("verify", at(3, 5, 12), "reported"),
                       ("file", at(3, 5, 12, 10), "filed"),
                       ("dispatch", at(3, 5, 13), "dispatched", {"deadline_at": at(3, 6, 12).isoformat(), "department_code": d1}),
                       ("feedback", at(3, 6, 15), "handled"), ("rework", at(3, 6, 16), "dispatched"),
                       ("feedback", at(3, 7, 10), "handled"), ("check_pass", at(3, 7, 13), "closed")])
    # C: hotline, verified in 1 h, filed, dispatched to D2, never handled (overdue by the end).
    S.add_case(conn, *G2, reported_at=at(3, 10, 8), channel="hotline", officer_id=o1, department_code=d2, state="dispatched",
               events=[("report", at(3, 10, 9), "verifying"), ("verify", at(3, 10, 10), "reported"),
                       ("file", at(3, 10, 10, 5), "filed"),
                       ("dispatch", at(3, 10, 10, 30), "dispatched", {"deadline_at": at(3, 11, 12).isoformat(), "department_code": d2})])
    # D: patrol by o1, cancelled before filing (not a valid report).
    S.add_case(conn, *G2, reported_at=at(3, 12, 8), reporter_officer_id=o1, officer_id=o1, state="cancelled",
               events=[("report", at(3, 12, 8), "reported"), ("cancel", at(3, 12, 9), "cancelled")])
    # E: patrol by o1, filed then suspended (挂账: a valid report, but not in the area's 立案数).
    S.add_case(conn, *G1, reported_at=at(3, 15, 8), reporter_officer_id=o1, officer_id=o1, state="suspended",
               events=[("report", at(3, 15, 8), "reported"), ("file", at(3, 15, 8, 30), "filed"),
                       ("suspend", at(3, 15, 9), "suspended")])
    # F: patrol by o2 in community 2, handled on time, closed, checked in 1 h.
    S.add_case(conn, *H1, reported_at=at(3, 20, 8), reporter_officer_id=o2, officer_id=o2, department_code=d2, state="closed",
               events=[("report", at(3, 20, 8), "reported"), ("file", at(3, 20, 8, 30), "filed"),
                       ("dispatch", at(3, 20, 9), "dispatched", {"deadline_at": at(3, 21, 12).isoformat(), "department_code": d2}),
                       ("feedback", at(3, 21, 9), "handled"), ("check_pass", at(3, 21, 10), "closed")])
    # G: entirely in February: outside the period.
    S.add_case(conn, *G1, reported_at=at(2, 20, 8), reporter_officer_id=o1, officer_id=o1, department_code=d1, state="closed",
               events=[("report", at(2, 20, 8), "reported"), ("file", at(2, 20, 8, 30), "filed"),
                       ("dispatch", at(2, 20, 9), "dispatched", {"deadline_at": at(2, 21, 12).isoformat(), "department_code": d1}),
                       ("feedback", at(2, 21, 9), "handled"), ("check_pass", at(2, 22, 10), "closed")])


def build_positions(conn, o1):
    """Officer 1 on 2 March: walks 600 m east, stands 10 min, 40 min gap, crosses into community 2
    for 4 minutes (电子围栏 breach) and comes back."""
    fixes = [(at(3, 2, 8, k), 470050 + 60 * k, 4440900) for k in range(11)]            # 08:00–08:10, 600 m
    fixes += [(at(3, 2, 8, 10 + k), 470650, 4440900) for k in range(1, 11)]            # 08:11–08:20 standing
    fixes += [(at(3, 2, 9, k), 470950 + 60 * k, 4440900) for k in range(6)]            # 09:00–09:05 east to 471250
    fixes += [(at(3, 2, 9, 6), 471010, 4440900), (at(3, 2, 9, 7), 470950, 4440900), (at(3, 2, 9, 8), 470890, 4440900)]
    S.add_positions(conn, o1, fixes)
    return fixes


@pytest.fixture(scope="module")
def town(pg_admin_url):
    from databases import drop_database, migrated_database

    url = migrated_database(pg_admin_url)
    with connect(url) as conn:
        meta = S.build_town(conn)
        build_cases(conn, meta["officers"], meta["departments"])
        meta["fixes"] = build_positions(conn, meta["officers"][0])
        conn.commit()
    meta["url"] = url
    yield meta
    drop_database(pg_admin_url, url)


@pytest.fixture
def conn(town):
    with connect(town["url"]) as c:
        yield c


def run(processor, conn, inputs):
    mimetype, out = processor.run(processor.parse(inputs), conn)
    return mimetype, (json.loads(out) if isinstance(out, str) else out)


# ---------------------------------------------------------------- parameters and descriptions

def test_description_is_derived_from_the_model():
    doc = HeatmapProcessor().metadata
    assert doc["id"] == "heatmap"
    cell = doc["inputs"]["cell_size"]
    assert cell["schema"]["minimum"] == 10 and cell["schema"]["maximum"] == 5000 and cell["minOccurs"] == 0
    assert set(doc["inputs"]["method"]["schema"]["enum"]) == {"square", "hexagon", "h3", "kde"}
    track = TrackProcessor().metadata["inputs"]
    assert track["officer"]["minOccurs"] == 1 and track["officer"]["schema"]["minimum"] == 1


@pytest.mark.parametrize("inputs, field, words", [
    ({"cell_size": 3}, "cell_size", "greater than or equal to 10"),
    ({"cell_size": 99999}, "cell_size", "less than or equal to 5000"),
    ({"source": "positions", "category": ["01"]}, "category", "does not apply"),
    ({"bbox": [116.7, 40.1, 116.6, 40.2]}, "bbox", "min < max"),
    ({"bbox": [116.6, 40.1, 116.7, 40.2], "community": "110113004001"}, "bbox", "at most one"),
    ({"start": "2026-03-02T00:00:00"}, "start", "time zone"),
    ({"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-01T00:00:00+08:00"}, "end", "after start"),
    ({"method": "kde"}, "format", "geotiff or png"),
    ({"colour": "red"}, "colour", "unknown input"),
    ({"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}, "polygon", "self-intersecting"),
])
def test_bad_parameters_name_the_parameter_and_bound(inputs, field, words):
    with pytest.raises(InvalidProcessInput) as err:
        HeatmapProcessor().parse(inputs)
    assert err.value.http_status_code == 400
    assert err.value.field == field
    assert err.value.message.startswith(field) and words in err.value.message


def test_unknown_community_is_a_400(conn):
    with pytest.raises(InvalidProcessInput, match="community: no community"):
        run(HeatmapProcessor(), conn, {"community": "110113004999"})


# ---------------------------------------------------------------- heatmap

def test_square_heatmap_matches_pyproj_binning(conn, town):
    _, doc = run(HeatmapProcessor(), conn, {"source": "cases", "cell_size": 100})
    # independent: lon/lat from the database, projected with pyproj, binned with numpy
    rows = conn.execute("SELECT ST_X(geom) x, ST_Y(geom) y FROM cases").fetchall()
    tr = Transformer.from_crs(4490, 4548, always_xy=True)
    x, y = tr.transform([r["x"] for r in rows], [r["y"] for r in rows])
    expected = {}
    for a, b in zip(np.floor(np.array(x) / 100).astype(int), np.floor(np.array(y) / 100).astype(int)):
        expected[f"{a}_{b}"] = expected.get(f"{a}_{b}", 0) + 1
    got = {f["id"]: f["properties"]["count"] for f in doc["features"]}
    assert got == expected and doc["total"] == 7
    assert got["4701_44408"] == 4     # A, B, E, G all at G1 (470150, 4440850)


def test_heatmap_filters(conn, town):
    _, doc = run(HeatmapProcessor(), conn, {"source": "cases", "cell_size": 100, "channel": ["public", "hotline"]})
    assert doc["total"] == 2
    _, doc = run(HeatmapProcessor(), conn, {"source": "cases", "cell_size": 100, "start": "2026-03-01T00:00:00+08:00",
                                            "end": "2026-04-01T00:00:00+08:00", "state": ["closed"]})
    assert doc["total"] == 3          # A, B, F (G is February)
    _, doc = run(HeatmapProcessor(), conn, {"source": "cases", "community": S.COMMUNITIES[1]})
    assert doc["total"] == 1          # F
    _, doc = run(HeatmapProcessor(), conn, {"source": "cases", "category": ["02"]})
    assert doc["total"] == 0


def test_position_rollup_equals_raw_counts(conn, town):
    hm = HeatmapProcessor()
    o1 = town["officers"][0]
    windows = [{}, {"start": "2026-03-02T08:05:00+08:00", "end": "2026-03-02T09:03:00+08:00"},
               {"start": "2026-03-01T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00"},
               {"start": "2026-03-02T08:15:00+08:00"}]
    for w in windows:
        fast = hm.parse({"source": "positions", "cell_size": 100, **w})
        assert hm.uses_rollup(fast)
        slow = hm.parse({"source": "positions", "cell_size": 100, "officer": [o1], **w})
        assert not hm.uses_rollup(slow)
        a = {f["id"]: f["properties"]["count"] for f in json.loads(hm.run(fast, conn)[1])["features"]}
        b = {f["id"]: f["properties"]["count"] for f in json.loads(hm.run(slow, conn)[1])["features"]}
        assert a == b and sum(a.values()) > 0, w
    # 08:05 to 09:03 holds fixes 08:05..08:20 (16) and 09:00..09:02 (3)
    doc = json.loads(hm.run(hm.parse({"source": "positions", "cell_size": 200, **windows[1]}), conn)[1])
    assert doc["total"] == 19


def test_rollup_window_splits_whole_days_and_months():
    w = rollup_window(at(3, 1, 8), at(3, 4, 0))
    assert (str(w["d0"]), str(w["d1"])) == ("2026-03-02", "2026-03-04")
    assert w["t0"] == at(3, 2) and w["t1"] == at(3, 4) and w["m0"] == w["m1"]
    w = rollup_window(at(3, 1, 8), at(3, 1, 9))      # inside one day: raw only
    assert w["d0"] == w["d1"] and w["t0"] == w["end"]
    w = rollup_window(at(1, 15, 12), at(4, 10, 6))
    assert [str(w[k]) for k in ("d0", "m0", "m1", "d1")] == ["2026-01-16", "2026-02-01", "2026-04-01", "2026-04-10"]


def test_rollup_levels_follow_every_change(empty_db):
    """Roll-ups (day and month levels) against the raw rows, across a month boundary, after
    inserts, deletes, updates, a refresh and a truncate."""
    hm = HeatmapProcessor()
    with connect(empty_db) as c:
        meta = S.build_town(c)
        o1 = meta["officers"][0]
        fixes = [(datetime(2026, 2, 26, 8, tzinfo=CST) + timedelta(hours=7 * k), 470050 + 13 * (k % 70), 4440100 + 7 * (k % 50))
                 for k in range(120)]                                        # 26 Feb 08:00 → 2 Apr
        S.add_positions(c, o1, fixes)
        assert c.execute("SELECT sum(n) s FROM position_cell_day").fetchone()["s"] == 120
        assert c.execute("SELECT sum(n) s FROM position_cell_month").fetchone()["s"] == 120
        windows = [{}, {"start": "2026-02-27T13:00:00+08:00"}, {"end": "2026-03-20T05:00:00+08:00"},
                   {"start": "2026-02-26T00:00:00+08:00", "end": "2026-04-01T00:00:00+08:00"},
                   {"start": "2026-02-28T23:00:00+08:00", "end": "2026-03-01T01:00:00+08:00"}]

        def compare():
            for w in windows:
                fast = hm.parse({"source": "positions", "cell_size": 50, **w})
                assert hm.uses_rollup(fast)
                slow = hm.parse({"source": "positions", "cell_size": 50, "officer": [o1], **w})
                a = {f["id"]: f["properties"]["count"] for f in json.loads(hm.run(fast, c)[1])["features"]}
                b = {f["id"]: f["properties"]["count"] for f in json.loads(hm.run(slow, c)[1])["features"]}
                assert a == b, w

        compare()
        c.execute("DELETE FROM officer_position WHERE recorded_at < %s", [at(3, 1, 12)])
        compare()
        c.execute("UPDATE officer_position SET recorded_at = recorded_at + interval '1 day' WHERE recorded_at < %s", [at(3, 10)])
        compare()
        n = c.execute("SELECT count(*) n FROM officer_position").fetchone()["n"]
        assert c.execute("SELECT sum(n) s FROM position_cell_month").fetchone()["s"] == n
        assert c.execute("SELECT refresh_position_rollup() n").fetchone()["n"] > 0
        compare()
        c.execute("TRUNCATE officer_position")
        assert c.execute("SELECT count(*) n FROM position_cell_day").fetchone()["n"] == 0
        assert c.execute("SELECT count(*) n FROM position_cell_month").fetchone()["n"] == 0


def test_hexagon_and_h3_count_every_point_once(conn):
    for inputs in ({"method": "hexagon", "cell_size": 50}, {"method": "h3", "h3_resolution": 10}):
        _, doc = run(HeatmapProcessor(), conn, {"source": "cases", **inputs})
        assert doc["total"] == 7 and sum(f["properties"]["count"] for f in doc["features"]) == 7
        assert max(f["properties"]["count"] for f in doc["features"]) == 4


def test_kde_raster(conn):
    from rasterio.io import MemoryFile

    mimetype, tif = HeatmapProcessor().run(HeatmapProcessor().parse(
        {"source": "cases", "method": "kde", "format": "geotiff", "cell_size": 20, "bandwidth": 50}), conn)
    assert mimetype.startswith("image/tiff")
    with MemoryFile(tif) as mem, mem.open() as ds:
        assert ds.crs.to_epsg() == 4548
        band = ds.read(1)
        # the densest pixel is at G1 (4 cases); density integrates to the 7 cases
        row, col = np.unravel_index(band.argmax(), band.shape)
        x, y = ds.xy(row, col)
        assert abs(x - G1[0]) <= 20 and abs(y - G1[1]) <= 20
        assert abs(band.sum() * (20 * 20) / 1e6 - 7) < 0.2
    mimetype, png = HeatmapProcessor().run(HeatmapProcessor().parse(
        {"source": "cases", "method": "kde", "format": "png", "cell_size": 20}), conn)
    assert mimetype == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- cluster

@pytest.mark.parametrize("engine", ["grid", "postgis"])
def test_dbscan_clusters(empty_db, engine):
    with connect(empty_db) as c:
        S.build_town(c)
        for dx, dy in [(0, 0), (5, 0), (0, 5), (-5, 0), (0, -5)]:       # 5 within 10 m of (470100, 4440100)
            S.add_case(c, 470100 + dx, 4440100 + dy, reported_at=at(3, 1, 9), category="01001" if dx >= 0 else "01002")
        for dx in (0, 10, 20):                                         # 3 in a line near (471500, 4440500)
            S.add_case(c, 471500 + dx, 4440500, reported_at=at(3, 1, 9), category="02001")
        S.add_case(c, 470900, 4440900, reported_at=at(3, 1, 9))        # alone
        _, doc = run(ClusterProcessor(), c, {"eps": 15, "minpoints": 3, "engine": engine})
    assert doc["numberMatched"] == 2 and doc["noise"] == 1
    big, small = doc["features"]
    assert big["properties"]["count"] == 5 and small["properties"]["count"] == 3
    assert big["properties"]["top_categories"][0] == {"code": "01001", "count": 4}
    assert small["properties"]["top_categories"] == [{"code": "02001", "count": 3}]
    tr = Transformer.from_crs(4490, 4548, always_xy=True)
    cx, cy = tr.transform(*big["properties"]["centroid"]["coordinates"])
    assert abs(cx - 470100) < 0.02 and abs(cy - 4440100) < 0.02
    assert big["geometry"]["type"] == "Polygon" and small["geometry"]["type"] == "Polygon"
    assert abs(big["properties"]["area_m2"] - 50.0) < 0.1       # the 5 points' hull: a square of diagonal 10 m


def test_dbscan_engines_agree_on_random_points(empty_db):
    """The in-process DBSCAN against PostGIS ST_ClusterDBSCAN on 3 000 random points: the same
    partition up to the numbering of the clusters."""
    from civicgrid.processes.dbscan import dbscan

    rng = np.random.default_rng(5)
    centres = rng.uniform(0, 3000, size=(30, 2))
    xy = np.vstack([c + rng.normal(0, 25, size=(80, 2)) for c in centres] + [rng.uniform(0, 3000, size=(600, 2))])
    ours = dbscan(xy, 20.0, 6)
    with connect(empty_db) as c:
        rows = c.execute("SELECT k, ST_ClusterDBSCAN(ST_MakePoint(x, y), 20.0, 6) OVER () AS cid "
                         "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(x, y, k) ORDER BY k",
                         [xy[:, 0].tolist(), xy[:, 1].tolist()]).fetchall()
    theirs = np.array([-1 if r["cid"] is None else r["cid"] for r in rows])

    def partition(labels):
        return sorted(sorted(np.nonzero(labels == k)[0].tolist()) for k in set(labels.tolist()) - {-1})

    assert (ours == -1).sum() == (theirs == -1).sum() > 0
    assert partition(ours) == partition(theirs) and len(partition(ours)) >= 25


# ---------------------------------------------------------------- hotspots

def gi_star_by_hand(x, neighbours):
    """Getis-Ord Gi* written out term by term (binary weights, self included)."""
    n = len(x)
    mean = sum(x) / n
    s = math.sqrt(sum(v * v for v in x) / n - mean * mean)
    out = []
    for i in range(n):
        js = [i] + list(neighbours[i])
        wsum = len(js)
        num = sum(x[j] for j in js) - mean * wsum
        den = s * math.sqrt((n * wsum - wsum * wsum) / (n - 1))
        out.append(num / den)
    return out


def test_gi_star_against_hand_computation():
    # a 3 × 3 lattice (index = 3 * row + col), rook contiguity, a hot corner
    x = [10, 8, 1, 7, 2, 0, 1, 0, 0]
    nb = {i: [] for i in range(9)}
    pairs = []
    for r in range(3):
        for c in range(3):
            i = 3 * r + c
            for rr, cc in ((r, c + 1), (r + 1, c)):
                if rr < 3 and cc < 3:
                    j = 3 * rr + cc
                    pairs.append((i, j))
                    nb[i].append(j)
                    nb[j].append(i)
    z, p = gi_star(np.array(x), np.array(pairs))
    assert np.allclose(z, gi_star_by_hand(x, nb))
    # a value worked out on paper: cell 0 has {0,1,3} → Σ = 25, x̄ = 29/9, S² = 219/9 − (29/9)²
    mean = 29 / 9
    s = math.sqrt(219 / 9 - mean ** 2)
    assert abs(z[0] - (25 - 3 * mean) / (s * math.sqrt((9 * 3 - 9) / 8))) < 1e-12
    assert abs(p[0] - math.erfc(abs(z[0]) / math.sqrt(2))) < 1e-12


def test_hotspots_on_unit_grids(conn):
    _, doc = run(HotspotsProcessor(), conn, {"source": "cases", "units": "unit_grids"})
    assert doc["numberMatched"] == 50
    by = {f["id"]: f["properties"] for f in doc["features"]}
    g1 = by["110113004001001"]
    assert g1["count"] == 4 and g1["z"] == max(p["z"] for p in by.values()) and g1["bin"] >= 2 and g1["p"] < 0.05
    # independent check of one z with the lattice of 5 × 5 grids per community: G1's neighbours are
    # 002 (1 case: C, D → 2 cases), 006, 007
    assert by["110113004001002"]["count"] == 2


def test_hotspots_on_cells(conn):
    _, doc = run(HotspotsProcessor(), conn, {"source": "cases", "units": "cells", "cell_size": 200,
                                             "bbox": [116.64, 40.09, 116.68, 40.11]})
    counts = sum(f["properties"]["count"] for f in doc["features"])
    assert counts == 7
    # Gi* sums over the neighbourhood, so the cells around G1 tie with it: G1's z is the maximum
    g1 = next(f["properties"] for f in doc["features"] if f["properties"]["count"] == 4)
    assert g1["z"] == max(f["properties"]["z"] for f in doc["features"]) and g1["bin"] == 3


# ---------------------------------------------------------------- evaluation

MARCH = {"start": "2026-03-01T00:00:00+08:00", "end": "2026-04-01T00:00:00+08:00"}


def test_area_evaluation_unit_grids(conn):
    _, doc = run(AreaEvaluationProcessor(), conn, {"level": "unit_grid", **MARCH})
    by = {f["id"]: f["properties"] for f in doc["features"]}
    assert len(by) == 50
    g1, g2, h1 = by["110113004001001"], by["110113004001002"], by["110113004002001"]
    # G1: A, B filed (E suspended, G February); both closed, A on time, B reworked and public
    assert (g1["filed"], g1["closed"], g1["on_time_closed"], g1["reworked"], g1["public_reports"]) == (2, 2, 1, 1, 1)
    assert (g1["closed_rate"], g1["on_time_closed_rate"], g1["rework_rate"], g1["public_report_rate"]) == (1, 0.5, 0.5, 0.5)
    # 0.1·(1−0.5)·100 + 0.2·0 (most cases) + 0.3·100 + 0.4·50 = 55 → D
    assert (g1["score"], g1["grade"]) == (55.0, "D")
    # G2: C filed (hotline), open; D cancelled unfiled → 0.1·0 + 0.2·50 + 0 + 0 = 10 → E
    assert (g2["filed"], g2["closed"], g2["public_reports"], g2["score"], g2["grade"]) == (1, 0, 1, 10.0, "E")
    # H1: F → 10 + 10 + 30 + 40 = 90 → A; an empty grid: 100 → A
    assert (h1["score"], h1["grade"]) == (90.0, "A")
    assert by["110113004002025"]["score"] == 100.0 and by["110113004002025"]["closed_rate"] is None
    assert doc["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_area_evaluation_communities_and_csv(conn):
    _, doc = run(AreaEvaluationProcessor(), conn, {"level": "community", **MARCH})
    by = {f["id"]: f["properties"] for f in doc["features"]}
    c1, c2 = by[S.COMMUNITIES[0]], by[S.COMMUNITIES[1]]
    assert (c1["filed"], c1["closed"], c1["on_time_closed"], c1["public_reports"]) == (3, 2, 1, 2)
    # 0.1·(100/3) + 0.2·0 + 0.3·(200/3) + 0.4·(100/3) = 36.67 → E
    assert (c1["score"], c1["grade"]) == (36.67, "E")
    assert (c2["score"], c2["grade"]) == (100.0, "A")
    _, rg = run(AreaEvaluationProcessor(), conn, {"level": "responsibility_grid", **MARCH})
    assert {f["id"]: f["properties"]["filed"] for f in rg["features"]} == {S.COMMUNITIES[0] + "Z01": 3, S.COMMUNITIES[1] + "Z01": 1}
    mimetype, text = AreaEvaluationProcessor().run(AreaEvaluationProcessor().parse({"level": "community", "format": "csv", **MARCH}), conn)
    assert mimetype.startswith("text/csv")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[:3] == ["编码", "名称", "立案数"] and "等级" in lines[0]
    assert lines[1].startswith(S.COMMUNITIES[0] + ",测试社区1,3,")


def test_department_evaluation(conn, town):
    _, doc = run(AreaEvaluationProcessor(), conn, {"level": "department", "format": "json", **MARCH})
    by = {r["code"]: r for r in doc["rows"]}
    d1, d2 = by[town["departments"][0]], by[town["departments"][1]]
    # D1: A on time, B handled after its deadline, both closed, B reworked
    assert (d1["dispatched"], d1["handled"], d1["on_time_handled"], d1["overdue_handled"], d1["overdue_unhandled"],
            d1["closed"], d1["reworked"], d1["due"]) == (2, 2, 1, 1, 0, 2, 1, 2)
    # 0.1·100 + 0.3·100 + 0.3·50 + 0.3·50 = 70 → C
    assert (d1["score"], d1["grade"]) == (70.0, "C")
    # D2: C never handled (overdue), F on time → due 2; 10 + 0.3·50 + 0.3·50 + 0.3·100 = 70
    assert (d2["dispatched"], d2["handled"], d2["overdue_unhandled"], d2["closed"], d2["due"]) == (2, 1, 1, 1, 2)
    assert (d2["closed_rate"], d2["on_time_handled_rate"], d2["rework_rate"], d2["score"]) == (0.5, 0.5, 0.0, 70.0)


def test_officer_evaluation(conn, town):
    o1, o2 = town["officers"]
    _, doc = run(AreaEvaluationProcessor(), conn, {"level": "officer", "format": "json", **MARCH})
    by = {int(r["code"]): r for r in doc["rows"]}
    a = by[o1]
    # reports A, D, E; valid A, E. Grid filed A, B, C; missed B, C. Verify B late, C on time.
    # Checks: A (1 h) ok, B first (rework after 1 h) ok, B second (3 h) late.
    assert (a["reports"], a["valid_reports"], a["grid_filed"], a["missed"]) == (3, 2, 3, 2)
    assert (a["to_verify"], a["verified_on_time"], a["to_check"], a["checked_on_time"]) == (2, 1, 3, 2)
    # 0.4·66.67 + 0.2·33.33 + 0.2·50 + 0.2·66.67 = 56.67 → D
    assert (a["score"], a["grade"]) == (56.67, "D")
    b = by[o2]
    assert (b["reports"], b["valid_reports"], b["missed"], b["to_verify"], b["on_time_verify_rate"]) == (1, 1, 0, 0, None)
    assert (b["score"], b["grade"]) == (100.0, "A")


def test_evaluation_weights_are_data():
    from civicgrid.processes.evaluation import count_scores, load_config

    cfg = load_config()
    assert cfg["area"]["weights"]["on_time_closed_rate"] == 0.4
    assert count_scores([0, 50, 51, 1001], cfg["department"]["filed_score"]) == [100, 100, 90, 0]
    assert count_scores([0, 1, 2], {"method": "relative"}) == [100, 50, 0]


def test_evaluation_needs_a_period():
    with pytest.raises(InvalidProcessInput, match="start"):
        AreaEvaluationProcessor().parse({"level": "community"})


# ---------------------------------------------------------------- track and patrol coverage

WINDOW = {"start": "2026-03-02T07:00:00+08:00", "end": "2026-03-02T10:00:00+08:00"}


def test_track(conn, town):
    _, doc = run(TrackProcessor(), conn, {"officer": town["officers"][0], **WINDOW})
    t = doc["totals"]
    # 600 m + 300 m + 240 m + 60 m + 60 m; 20 + 8 minutes on duty; 08:00 → 09:08
    assert (t["positions"], t["distance_m"], t["on_duty_minutes"], t["duration_minutes"]) == (30, 1260.0, 28.0, 68.0)
    assert (t["stops"], t["gaps"], t["stop_minutes"]) == (1, 1, 10.0)
    assert doc["gaps"][0]["minutes"] == 40.0
    stop = next(f for f in doc["features"] if f["properties"]["kind"] == "stop")
    assert stop["properties"]["from"] == "2026-03-02T00:10:00Z" and stop["properties"]["fixes"] == 11
    track = doc["features"][0]
    # Douglas–Peucker keeps the ends of the straight walk and the turning point of the second segment
    assert [len(s) for s in track["geometry"]["coordinates"]] == [2, 3]
    assert track["properties"]["times"] == [["2026-03-02T00:00:00Z", "2026-03-02T00:20:00Z"],
                                            ["2026-03-02T01:00:00Z", "2026-03-02T01:05:00Z", "2026-03-02T01:08:00Z"]]
    _, raw = run(TrackProcessor(), conn, {"officer": town["officers"][0], "tolerance": 0, **WINDOW})
    assert raw["totals"]["vertices"] == 30
    # what the playback draws: the gap as a dashed line, the stretch outside the grid (as the
    # patrol-coverage breach: 09:02 → 09:06) from the last fix inside to the first one back
    gap = next(f for f in doc["features"] if f["properties"]["kind"] == "gap")
    assert gap["geometry"]["type"] == "LineString" and gap["properties"]["minutes"] == 40.0
    out = [f for f in doc["features"] if f["properties"]["kind"] == "outside"]
    assert [(o["properties"]["from"], o["properties"]["to"], o["properties"]["minutes"]) for o in out] == [
        ("2026-03-02T01:02:00Z", "2026-03-02T01:06:00Z", 4.0)]
    assert len(out[0]["geometry"]["coordinates"]) == 6 and out[0]["properties"]["max_distance_m"] > 20
    assert (t["outside"], t["outside_minutes"], t["gap_minutes"]) == (1, 4.0, 40.0)
    assert (t["start"], t["end"]) == ("2026-03-02T00:00:00Z", "2026-03-02T01:08:00Z")
    _, wide = run(TrackProcessor(), conn, {"officer": town["officers"][0], "fence_tolerance": 100, **WINDOW})
    assert wide["totals"]["outside_minutes"] == 3.0


def test_track_unknown_officer(conn):
    with pytest.raises(InvalidProcessInput, match="officer"):
        run(TrackProcessor(), conn, {"officer": 999, **WINDOW})
    with pytest.raises(InvalidProcessInput, match="at most 7 days"):
        TrackProcessor().parse({"officer": 1, "start": "2026-03-01T00:00:00+08:00", "end": "2026-03-20T00:00:00+08:00"})


def test_patrol_coverage(conn, town):
    o1 = town["officers"][0]
    _, doc = run(PatrolCoverageProcessor(), conn, {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00"})
    assert len(doc["rows"]) == 1
    r = doc["rows"][0]
    assert (r["officer"], r["day"], r["positions"], r["distance_m"], r["on_duty_minutes"]) == (o1, "2026-03-02", 30, 1260.0, 28.0)
    # own unit grids visited: cols 0–4 of row 0 of community 1 = 5 of 25
    assert (r["unit_grids"], r["unit_grids_visited"], r["visited_share"], r["stops"]) == (25, 5, 0.2, 1)
    # outside from 09:02 (x 471 070, beyond the 20 m tolerance) until back inside at 09:06
    assert r["breaches"] == [{"from": "2026-03-02T01:02:00Z", "to": "2026-03-02T01:06:00Z", "minutes": 4.0}]
    assert r["outside_minutes"] == 4.0 and r["responsibility_grids"] == [S.COMMUNITIES[0] + "Z01"]
    # with a 100 m tolerance only 471 130 … 471 250 are outside: 09:03 → 09:06
    _, wide = run(PatrolCoverageProcessor(), conn, {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00",
                                                    "fence_tolerance": 100})
    assert wide["rows"][0]["outside_minutes"] == 3.0


# ---------------------------------------------------------------- command line

def test_cli_runs_a_process_and_refuses_bad_inputs(town, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": town["url"]}
    out = tmp_path / "march.csv"
    ok = subprocess.run([sys.executable, "-m", "civicgrid.cli", "processes", "run", "area-evaluation",
                         json.dumps({"level": "community", "format": "csv", **MARCH}), "-o", str(out)],
                        env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert out.read_text(encoding="utf-8-sig").splitlines()[1].startswith(S.COMMUNITIES[0] + ",测试社区1,3,")
    bad = subprocess.run([sys.executable, "-m", "civicgrid.cli", "processes", "run", "heatmap", '{"cell_size": 1}'],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip() == "civicgrid: cell_size: Input should be greater than or equal to 10 (got 1)"
    again = subprocess.run([sys.executable, "-m", "civicgrid.cli", "processes", "refresh-rollup"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "rebuilt" in again.stdout
