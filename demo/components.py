"""Urban components (管理部件) placed where they belong: covers, lamps and trees along roads,
bins and signboards near shops, toilets near squares and markets, guard rails along arterials
(lines), green land and parking lots (polygons). Positions are laid out at full density and
thinned by `scale`, so a small town keeps the same look."""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import box
from shapely.ops import substring

# (type code, road classes, spacing m, lateral offsets m (one per side))
ALONG_ROADS = [
    ("01037", ("arterial",), 35, (-14, 14)), ("01037", ("street",), 35, (7,)), ("01037", ("lane",), 55, (3,)),
    ("04002", ("arterial",), 8, (-10, 10)), ("04002", ("street",), 9, (-6, 6)),
    ("04011", ("arterial",), 21, (-10.5, 10.5)),
    ("01001", ("arterial", "street"), 70, (1.5,)), ("01002", ("arterial", "street"), 45, (-1,)),
    ("01003", ("arterial", "street"), 40, (2.5,)), ("01004", ("arterial", "street"), 35, (-5.5, 5.5)),
    ("01005", ("arterial", "street"), 90, (-4,)), ("01006", ("arterial", "street"), 110, (6.5,)),
    ("01007", ("arterial", "street"), 80, (-3,)), ("01008", ("arterial",), 200, (4,)),
    ("01009", ("arterial", "street"), 160, (-2.5,)), ("01010", ("arterial", "street"), 140, (3.5,)),
    ("01011", ("arterial", "street"), 120, (-3.5,)), ("01012", ("arterial",), 400, (5,)),
    ("01017", ("arterial",), 150, (-6,)), ("01030", ("lane",), 45, (-3,)), ("01031", ("street",), 120, (-7,)),
    ("01027", ("street",), 250, (8,)), ("01048", ("street", "lane"), 300, (9,)),
    ("02012", ("arterial", "street"), 300, (8,)), ("02010", ("arterial",), 150, (-12, 12)),
    ("02021", ("street",), 60, (5,)), ("03005", ("arterial", "street"), 80, (-8, 8)),
    ("03014", ("street",), 600, (9,)), ("02038", ("street",), 45, (-12, 12)),
]
LINE_ALONG = ("02017", ("arterial",), 120, 60.0, (-4, 4))     # guard rails: every 120 m a 60 m piece
# near POIs: category → (type, per POI, radius m)
NEAR_POIS = {
    "shop": [("03007", 1, 8), ("03005", 1, 12), ("02027", 0.3, 15)],
    "restaurant": [("03007", 1, 8), ("03005", 1, 12)],
    "pharmacy": [("03007", 1, 8)],
    "market": [("03005", 6, 40), ("03001", 1, 40), ("02025", 2, 40)],
    "square": [("03001", 1, 50), ("04007", 8, 40), ("04005", 4, 40), ("01039", 6, 50), ("03005", 4, 40)],
    "bus_stop": [("02004", 1, 3), ("03005", 1, 6), ("02025", 0.5, 15)],
    "residential": [("01046", 1, 60), ("03004", 1, 60), ("01054", 2, 60), ("03015", 1, 40)],
    "school": [("02020", 2, 30), ("03005", 2, 30)],
    "village_committee": [("03001", 1, 40), ("01046", 1, 50), ("03008", 1, 20)],
}
STATUS = (("完好", 0.93), ("破损", 0.05), ("丢失", 0.02))


def _along(roads, classes, spacing, offsets, rng):
    geoms = [r["geom"] for r in roads if r["class"] in classes]
    if not geoms:
        return np.empty((0, 2))
    geoms = np.array(geoms, dtype=object)
    lengths = shapely.length(geoms)
    pts = []
    for off in offsets:
        start = rng.uniform(0, spacing, len(geoms))
        counts = np.maximum(0, np.floor((lengths - start) / spacing).astype(int) + 1)
        gi = np.repeat(np.arange(len(geoms)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        d = start[gi] + (np.arange(counts.sum()) - first) * spacing
        d = np.minimum(d, lengths[gi])
        p = shapely.get_coordinates(shapely.line_interpolate_point(geoms[gi], d))
        q = shapely.get_coordinates(shapely.line_interpolate_point(geoms[gi], np.minimum(d + 1, lengths[gi])))
        q2 = shapely.get_coordinates(shapely.line_interpolate_point(geoms[gi], np.maximum(d - 1, 0)))
        t = q - q2
        t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
        normal = np.column_stack([-t[:, 1], t[:, 0]])
        pts.append(p + normal * (off + rng.normal(0, 0.3, len(p)))[:, None])
    return np.vstack(pts)


def generate(rng: np.random.Generator, town, grid_tree, pois: list[dict], scale: float) -> list[dict]:  # noqa: C901 — the generator of one synthetic survey, step by step
    """Component dicts with metric geometry and type code; attributes are filled by the caller."""
    items: list[tuple[str, np.ndarray]] = []
    for code, classes, spacing, offsets in ALONG_ROADS:
        items.append((code, _along(town.roads, classes, spacing, offsets, rng)))
    for p_cat, specs in NEAR_POIS.items():
        anchors = np.array([p["xy"] for p in pois if p["kind"] == p_cat]).reshape(-1, 2)
        for code, per, radius in specs:
            n = rng.poisson(per, len(anchors)) if per != int(per) else np.full(len(anchors), int(per))
            a = np.repeat(anchors, n, axis=0)
            ang = rng.uniform(0, 2 * np.pi, len(a))
            r = radius * np.sqrt(rng.uniform(0.05, 1, len(a)))
            items.append((code, a + np.column_stack([np.cos(ang), np.sin(ang)]) * r[:, None]))
    out: list[dict] = []
    for code, xy in items:
        if len(xy) == 0:
            continue
        keep = rng.random(len(xy)) < scale
        pts = shapely.points(xy[keep])
        gi, pi = _locate(grid_tree, pts)
        for p, g in zip(pts[pi], gi):
            out.append({"type_code": code, "geom": p, "grid": g})

    # guard rails: pieces of arterials, offset, clipped to the grid of their midpoint
    code, classes, every, length, offsets = LINE_ALONG
    arts = [r["geom"] for r in town.roads if r["class"] in classes]
    for off in offsets:
        for line in arts:
            par = line.offset_curve(off)
            if par.is_empty or par.geom_type != "LineString":
                continue
            starts = np.arange(rng.uniform(0, every), par.length - length, every)
            starts = starts[rng.random(len(starts)) < scale]
            for s in starts:
                seg = substring(par, s, s + length)
                mid = seg.interpolate(0.5, normalized=True)
                gi, _ = _locate(grid_tree, np.array([mid]))
                if not len(gi):
                    continue
                piece = shapely.intersection(seg, grid_tree.geometries[gi[0]])
                if piece.geom_type == "LineString" and piece.length > 5:
                    out.append({"type_code": code, "geom": piece, "grid": gi[0]})

    # polygons: green land and parking lots inside single grids of the built-up zones
    geoms = grid_tree.geometries
    built = np.array([g["zone"] in ("core", "suburban") for g in town.grids])
    for code, share, (lo, hi) in (("04013", 0.18, (20, 70)), ("02001", 0.08, (25, 60)), ("04014", 0.3, (80, 200))):
        cand = np.nonzero(~built if code == "04014" else built)[0]
        cand = cand[rng.random(len(cand)) < share * min(1.0, scale * 4)]
        for gi in cand:
            c = shapely.point_on_surface(geoms[gi])
            w, h = rng.uniform(lo, hi, 2)
            poly = shapely.intersection(box(c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2), geoms[gi].buffer(-3))
            if poly.geom_type == "Polygon" and poly.area > 50:
                out.append({"type_code": code, "geom": shapely.set_precision(poly, 0.01), "grid": gi})
    return out


def _locate(tree, pts):
    """(grid index, point index) of points lying in a grid; points outside the town drop out."""
    pi, gi = tree.query(pts, predicate="intersects")
    # a point on a shared edge matches two grids: keep the first
    first = np.unique(pi, return_index=True)[1]
    return gi[first], pi[first]


def status_and_dates(rng: np.random.Generator, n: int):
    st = rng.choice([s for s, _ in STATUS], size=n, p=[p for _, p in STATUS])
    # survey campaign: 2025-03 … 2026-09
    base = np.datetime64("2025-03-01")
    days = rng.integers(0, (np.datetime64("2026-09-30") - base).astype(int), n)
    initial = base + days.astype("timedelta64[D]")
    return st, initial
