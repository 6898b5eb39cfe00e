"""Officer GPS tracks: each officer walks the streets (the unit-grid edges) of their own
responsibility grid during shifts, one fix every 30 s, with ~5 m noise, dwells, a lunch break,
and now and then a short trip out of the grid. Built with numpy and written as binary COPY rows."""
from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

SHIFTS = ((8 * 3600, 12 * 3600), (13 * 3600 + 1800, 18 * 3600))   # 08:00–12:00, 13:30–18:00
STEP_S = 30
TZ_OFFSET_S = 8 * 3600                                   # Asia/Shanghai, no DST
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
INSET_M = 8.0


def street_graph(member_geoms: np.ndarray, rg_geom) -> tuple[np.ndarray, list[np.ndarray]]:
    """Nodes (metric xy) and adjacency lists of the unit-grid edges of one responsibility grid;
    nodes on its outer boundary are moved inside so an officer walks its own side of the street."""
    segs = []
    for g in shapely.get_parts(member_geoms):
        for ring in shapely.get_rings(g):
            c = shapely.get_coordinates(ring)
            segs.append(np.column_stack([c[:-1], c[1:]]))
    segs = np.vstack(segs)
    keys = np.round(segs.reshape(-1, 2), 1)
    nodes, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1, 2)
    inv = inv[inv[:, 0] != inv[:, 1]]
    edges = np.unique(np.sort(inv, axis=1), axis=0)
    nodes = nodes.astype(float)
    pts = shapely.points(nodes)
    on_edge = shapely.distance(pts, rg_geom.boundary) < 0.5
    inner = rg_geom.buffer(-INSET_M)
    if on_edge.any() and not inner.is_empty:
        lines = shapely.shortest_line(pts[on_edge], inner.boundary)
        nodes[on_edge] = shapely.get_coordinates(shapely.get_point(lines, 1))
    adj = [[] for _ in range(len(nodes))]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    return nodes, [np.array(sorted(a)) for a in adj]


def random_walk(nodes, adj, length_m: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A path along the graph, no immediate U-turns unless at a dead end; returns the vertex
    coordinates and their cumulative distance."""
    cur = int(rng.integers(len(nodes)))
    prev = -1
    path = [cur]
    dist = 0.0
    u = rng.random(int(length_m / 20) + 1000)
    k = 0
    while dist < length_m:
        nb = adj[cur]
        if len(nb) == 0:
            break
        if len(nb) > 1 and prev >= 0:
            nb = nb[nb != prev]
        if k >= len(u):
            u = rng.random(len(u))
            k = 0
        nxt = int(nb[int(u[k] * len(nb))])
        k += 1
        dist += float(np.hypot(*(nodes[nxt] - nodes[cur])))
        prev, cur = cur, nxt
        path.append(cur)
    xy = nodes[path]
    cum = np.r_[0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    return xy, cum


def track(officer_id: int, nodes, adj, days: list[dt.date], rng: np.random.Generator, town_geom,
          rg_geom) -> dict[str, np.ndarray]:
    speed = rng.uniform(1.05, 1.35)
    t_all, moving_all = [], []
    for day in days:
        weekend = day.weekday() >= 5
        if weekend and rng.random() > 0.5:      # weekend duty rota: about half works
            continue
        midnight = (dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) - PG_EPOCH).total_seconds() \
            - TZ_OFFSET_S
        for start, end in SHIFTS:
            s = start + int(rng.integers(-10, 11)) * 60
            e = end + int(rng.integers(-5, 11)) * 60
            t = np.arange(s, e, STEP_S, dtype=np.int64)
            moving = np.ones(t.size, dtype=bool)
            for _ in range(rng.integers(1, 4)):   # dwells: checking a site, talking to shopkeepers
                d0 = rng.uniform(s, e)
                moving[(t >= d0) & (t < d0 + rng.uniform(300, 900))] = False
            t_all.append(midnight + t)
            moving_all.append(moving)
    if not t_all:
        return {}
    t = np.concatenate(t_all).astype(np.int64)
    moving = np.concatenate(moving_all)
    step = np.where(moving, STEP_S * speed * rng.normal(1, 0.12, t.size).clip(0.5, 1.5), 0.0)
    s = np.cumsum(step)
    path, cum = random_walk(nodes, adj, float(s[-1]) + 10, rng)
    x = np.interp(s, cum, path[:, 0])
    y = np.interp(s, cum, path[:, 1])
    # trips out of the grid (lunch errands, a neighbour's call): a triangle-shaped detour
    n_trip = rng.poisson(len(t_all) * 0.06)
    for _ in range(n_trip):
        i0 = int(rng.integers(0, t.size - 40))
        n = int(rng.integers(16, 40))
        ang = rng.uniform(0, 2 * np.pi)
        mag = rng.uniform(120, 300) * np.r_[np.linspace(0, 1, n // 2), np.linspace(1, 0, n - n // 2)]
        x[i0:i0 + n] += np.cos(ang) * mag
        y[i0:i0 + n] += np.sin(ang) * mag
    acc = np.clip(rng.lognormal(np.log(5), 0.35, t.size), 2, 30).astype(np.float32)
    xn = x + rng.normal(0, 1, t.size) * acc * 0.6
    yn = y + rng.normal(0, 1, t.size) * acc * 0.6
    out = ~shapely.contains_xy(town_geom, xn, yn)
    xn[out], yn[out] = x[out], y[out]
    still_out = ~shapely.contains_xy(town_geom, xn, yn)
    keep = ~still_out
    spd = np.where(moving, step / STEP_S, np.abs(rng.normal(0, 0.15, t.size))).astype(np.float32)
    return {"officer_id": np.full(keep.sum(), officer_id, dtype=np.int32), "t": t[keep] * 1_000_000,
            "x": xn[keep], "y": yn[keep], "acc": acc[keep], "speed": spd[keep]}


def copy_binary(lon: np.ndarray, lat: np.ndarray, officer_id, t_us, acc, speed) -> bytes:
    """PostgreSQL binary COPY rows for (officer_id, recorded_at, geom, accuracy_m, speed_mps);
    geom is little-endian EWKB Point with SRID 4490 (25 bytes)."""
    n = lon.size
    dtype = np.dtype([
        ("nf", ">i2"),
        ("l1", ">i4"), ("oid", ">i4"),
        ("l2", ">i4"), ("ts", ">i8"),
        ("l3", ">i4"), ("bo", "u1"), ("gtype", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8"),
        ("l4", ">i4"), ("acc", ">f4"),
        ("l5", ">i4"), ("spd", ">f4"),
    ])
    a = np.empty(n, dtype=dtype)
    a["nf"] = 5
    a["l1"], a["oid"] = 4, officer_id
    a["l2"], a["ts"] = 8, t_us
    a["l3"], a["bo"], a["gtype"], a["srid"], a["x"], a["y"] = 25, 1, 0x20000001, 4490, lon, lat
    a["l4"], a["acc"] = 4, acc
    a["l5"], a["spd"] = 4, speed
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + a.tobytes() + b"\xff\xff"
