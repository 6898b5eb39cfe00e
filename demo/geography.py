"""The town's shape: boundary, communities (社区/村), street network and unit grids (单元网格).

Everything is built in metres in EPSG:4548 (CGCS2000 3-degree Gauss-Krüger, CM 117°E) and turned
into EPSG:4490 lon/lat only when written. The layout is a nested block plan: 600 m super-blocks,
split into 300 m blocks, split into 100 m (core), 150 m (suburban) or kept whole (rural) cells.
Communities are whole 300 m blocks (so their borders run along streets); unit grids are the cells
clipped to the town boundary, with small edge slivers merged into a neighbour.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, Polygon

from civicgrid.demo import names

CENTER = (470169.0, 4444022.0)      # 116.65°E 40.13°N in EPSG:4548
TOWN_AREA_M2 = 42e6
BLOCK = 300.0
SUPER = 600.0
ZONE_CELL = {"core": 100.0, "suburban": 150.0, "rural": 300.0, "farm": 600.0}
ZONE_LAND_USE = {"core": "城镇建设用地", "suburban": "城镇建设用地", "rural": "村庄建设用地", "farm": "农林用地"}

_to_lonlat = Transformer.from_crs(4548, 4490, always_xy=True)


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Metric geometries → EPSG:4490 lon/lat (vectorised; shared vertices stay shared)."""
    out = shapely.transform(np.asarray(geoms, dtype=object),
                            lambda xy: np.column_stack(_to_lonlat.transform(xy[:, 0], xy[:, 1])))
    return out


def ewkb(geoms: np.ndarray) -> list[str]:
    """Hex EWKB with SRID 4490 for COPY (metric input)."""
    ll = shapely.set_srid(to_lonlat(geoms), 4490)
    return list(shapely.to_wkb(ll, hex=True, include_srid=True))


@dataclass
class Town:
    boundary: Polygon
    core_center: tuple[float, float]
    communities: list[dict] = field(default_factory=list)    # code, name, kind, geom, seed
    grids: list[dict] = field(default_factory=list)          # code, community_code, zone, geom
    roads: list[dict] = field(default_factory=list)          # name, class, geom
    adj_pairs: np.ndarray | None = None                      # grids sharing an edge (indices into grids)
    adj_len: np.ndarray | None = None                        # length of that shared edge, m


def _boundary(rng: np.random.Generator) -> Polygon:
    theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 13):
        r += rng.uniform(0.03, 0.12) / k ** 0.7 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r += rng.normal(0, 0.015, theta.size)
    # a little longer north-south, as the real town follows the river
    x = np.cos(theta) * r * 0.9
    y = np.sin(theta) * r * 1.1
    poly = Polygon(np.column_stack([x, y]))
    scale = np.sqrt(TOWN_AREA_M2 / poly.area)
    poly = Polygon(np.column_stack([CENTER[0] + x * scale, CENTER[1] + y * scale]))
    return shapely.make_valid(poly) if not poly.is_valid else poly


def _zone_of(points: np.ndarray, core_center, rng_phase: float) -> np.ndarray:
    d = np.hypot(points[:, 0] - core_center[0], points[:, 1] - core_center[1])
    ang = np.arctan2(points[:, 1] - core_center[1], points[:, 0] - core_center[0])
    d_eff = d / (1 + 0.18 * np.cos(2 * ang + rng_phase) + 0.08 * np.cos(3 * ang + 1.7 * rng_phase))
    zone = np.full(len(points), "farm", dtype=object)
    zone[d_eff < 3300] = "rural"
    zone[d_eff < 2700] = "suburban"
    zone[d_eff < 1900] = "core"
    return zone


def build(rng: np.random.Generator) -> Town:
    boundary = _boundary(rng)
    core_center = (CENTER[0] - 350.0, CENTER[1] + 250.0)
    phase = rng.uniform(0, 2 * np.pi)
    minx, miny, maxx, maxy = boundary.bounds
    ox = np.floor((minx - CENTER[0]) / SUPER) * SUPER + CENTER[0]
    oy = np.floor((miny - CENTER[1]) / SUPER) * SUPER + CENTER[1]
    nx = int(np.ceil((maxx - ox) / SUPER))
    ny = int(np.ceil((maxy - oy) / SUPER))

    # --- 300 m blocks, their zone (by super-block centre, so a super-block is never half farm)
    bi, bj = np.meshgrid(np.arange(nx * 2), np.arange(ny * 2), indexing="ij")
    bi, bj = bi.ravel(), bj.ravel()
    bx0, by0 = ox + bi * BLOCK, oy + bj * BLOCK
    block_center = np.column_stack([bx0 + BLOCK / 2, by0 + BLOCK / 2])
    super_center = np.column_stack([ox + (bi // 2) * SUPER + SUPER / 2, oy + (bj // 2) * SUPER + SUPER / 2])
    zone_super = _zone_of(super_center, core_center, phase)
    zone_block = _zone_of(block_center, core_center, phase)
    # blocks of a farm super-block stay farm; otherwise the finer of the two
    order = {"core": 0, "suburban": 1, "rural": 2, "farm": 3}
    zone = np.where(zone_super == "farm", "farm",
                    np.where(np.vectorize(order.get)(zone_block) < np.vectorize(order.get)(zone_super),
                             zone_block, zone_super)).astype(object)
    boxes = shapely.box(bx0, by0, bx0 + BLOCK, by0 + BLOCK)
    inside = shapely.intersects(boxes, boundary)
    # farm super-blocks intersecting the town with any of their blocks should stay one cell;
    # a farm super-block is "farm" only if all four blocks are farm (otherwise rural)
    key = bi // 2 * 100000 + bj // 2
    for k in np.unique(key[zone == "farm"]):
        m = key == k
        if not np.all(zone[m] == "farm"):
            zone[m & (zone == "farm")] = "rural"

    # --- community seeds: 社区 spread over the core, 村 on a ring outside it
    n_core, n_vil = len(names.CORE_COMMUNITIES), len(names.VILLAGES)
    golden = np.pi * (3 - np.sqrt(5))
    k = np.arange(n_core)
    rad = 1750 * np.sqrt((k + 0.5) / n_core)
    seeds = [(core_center[0] + r * np.cos(i * golden) + rng.normal(0, 60),
              core_center[1] + r * np.sin(i * golden) + rng.normal(0, 60)) for i, r in zip(k, rad)]
    ring = boundary.exterior
    for i in range(n_vil):
        a = 2 * np.pi * i / n_vil + rng.uniform(-0.15, 0.15)
        far = (CENTER[0] + 8000 * np.cos(a), CENTER[1] + 8000 * np.sin(a))
        edge = shapely.intersection(LineString([CENTER, far]), ring)
        ex, ey = shapely.get_coordinates(edge)[0]
        f = rng.uniform(0.68, 0.8)
        seeds.append((CENTER[0] + (ex - CENTER[0]) * f, CENTER[1] + (ey - CENTER[1]) * f))
    seeds = np.array(seeds)
    # squared distances weighted so the village areas do not swallow the suburbs
    weight = np.r_[np.full(n_core, 1.0), np.full(n_vil, 1.35)]
    d2 = ((block_center[:, None, :] - seeds[None, :, :]) ** 2).sum(-1) * weight[None, :] ** 2
    block_comm = np.argmin(d2, axis=1)

    # --- cells: split each block by its zone
    cells, cell_comm, cell_zone, cell_row, cell_col = [], [], [], [], []
    for z, size in ZONE_CELL.items():
        if z == "farm":
            continue
        m = (zone == z) & inside
        n = int(BLOCK // size)
        si, sj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        si, sj = si.ravel(), sj.ravel()
        x0 = (bx0[m][:, None] + si[None, :] * size).ravel()
        y0 = (by0[m][:, None] + sj[None, :] * size).ravel()
        cells.append(shapely.box(x0, y0, x0 + size, y0 + size))
        cell_comm.append(np.repeat(block_comm[m], n * n))
        cell_zone.append(np.full(x0.size, z, dtype=object))
        cell_row.append(y0 + size)
        cell_col.append(x0)
    # farm: one 600 m cell per super-block, community by the super-block centre
    fm = (zone == "farm") & inside
    _, first = np.unique(key[fm], return_index=True)
    fx0 = ox + (bi[fm][first] // 2) * SUPER
    fy0 = oy + (bj[fm][first] // 2) * SUPER
    fc = np.column_stack([fx0 + SUPER / 2, fy0 + SUPER / 2])
    fd2 = ((fc[:, None, :] - seeds[None, :, :]) ** 2).sum(-1) * weight[None, :] ** 2
    cells.append(shapely.box(fx0, fy0, fx0 + SUPER, fy0 + SUPER))
    cell_comm.append(np.argmin(fd2, axis=1))
    cell_zone.append(np.full(fx0.size, "farm", dtype=object))
    cell_row.append(fy0 + SUPER)
    cell_col.append(fx0)

    cells = np.concatenate(cells)
    cell_comm = np.concatenate(cell_comm)
    cell_zone = np.concatenate(cell_zone)
    cell_row = np.concatenate(cell_row)
    cell_col = np.concatenate(cell_col)
    nominal = shapely.area(cells)
    clipped = shapely.intersection(cells, boundary)
    keep = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0.5)
    cells, cell_comm, cell_zone, cell_row, cell_col, nominal, clipped = (
        a[keep] for a in (cells, cell_comm, cell_zone, cell_row, cell_col, nominal, clipped))
    clipped = _polygonal(clipped)
    clipped = _merge_slivers(clipped, nominal, cell_comm)
    alive = ~shapely.is_empty(clipped)
    clipped, cell_comm, cell_zone, cell_row, cell_col = (
        a[alive] for a in (clipped, cell_comm, cell_zone, cell_row, cell_col))

    clipped = _shared_vertices(clipped)
    # --- one piece per community: stray pieces join the neighbour they share the longest edge with
    pairs, shared = adjacency(clipped)
    cell_comm = make_contiguous(cell_comm, pairs, shared, shapely.area(clipped))

    # --- communities from their cells; drop seeds that got nothing
    comm_names = list(names.CORE_COMMUNITIES) + list(names.VILLAGES)
    comm_kind = ["社区"] * n_core + ["村"] * n_vil
    used = sorted(set(cell_comm.tolist()), key=lambda c: (-seeds[c, 1], seeds[c, 0]))
    town = Town(boundary=boundary, core_center=core_center)
    serial = {}
    for n_i, c in enumerate(used, start=1):
        code = f"{names.TOWN_CODE}{n_i:03d}"
        serial[c] = code
        geom = shapely.union_all(clipped[cell_comm == c])
        town.communities.append({"code": code, "name": comm_names[c], "kind": comm_kind[c],
                                 "geom": geom, "seed": tuple(seeds[c])})
    # --- unit grid codes: west→east, north→south within each community (rows by cell top edge)
    for c in used:
        idx = np.nonzero(cell_comm == c)[0]
        idx = idx[np.lexsort((cell_col[idx], -cell_row[idx]))]
        for s, i in enumerate(idx, start=1):
            town.grids.append({"code": f"{serial[c]}{s:03d}", "community_code": serial[c],
                               "zone": cell_zone[i], "geom": clipped[i]})
    # adjacency in the order of town.grids (the code order) for responsibility grids
    town.adj_pairs, town.adj_len = adjacency(np.array([g["geom"] for g in town.grids], dtype=object))
    town.roads = _roads(rng, town, ox, oy, nx, ny, zone, bi, bj, inside)
    return town


def adjacency(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of polygons sharing an edge (not just a corner), with the shared length."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    keep = shared > 1.0
    return np.column_stack([a[keep], b[keep]]), shared[keep]


def make_contiguous(labels: np.ndarray, pairs: np.ndarray, shared: np.ndarray, area: np.ndarray,
                    groups: np.ndarray | None = None) -> np.ndarray:
    """Relabel so each label is one connected piece: every piece but the largest of a label moves
    to the neighbouring label (within the same `groups` value) it shares the longest edge with."""
    labels = labels.copy()
    groups = np.zeros(len(labels), dtype=int) if groups is None else groups
    n = len(labels)
    for _ in range(10):
        same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
        comp = _components(n, pairs[same])
        piece_area = np.bincount(comp, weights=area)
        changed = False
        for lab in np.unique(labels):
            comps = np.unique(comp[labels == lab])
            if len(comps) <= 1:
                continue
            main = comps[np.argmax(piece_area[comps])]
            for c in comps:
                if c == main:
                    continue
                cells = np.nonzero(comp == c)[0]
                inc = np.isin(pairs[:, 0], cells) ^ np.isin(pairs[:, 1], cells)
                other = np.where(np.isin(pairs[inc, 0], cells), pairs[inc, 1], pairs[inc, 0])
                ok = (labels[other] != lab) & (groups[other] == groups[cells[0]])
                if not ok.any():
                    continue
                score: dict[int, float] = {}
                for o, l in zip(labels[other[ok]], shared[inc][ok]):
                    score[int(o)] = score.get(int(o), 0.0) + float(l)
                labels[cells] = max(sorted(score), key=lambda k: score[k])
                changed = True
        if not changed:
            break
    return labels


def _shared_vertices(geoms: np.ndarray) -> np.ndarray:
    """Give each polygon the vertices its neighbours have on its edges (a 100 m cell next to a
    150 m cell): without them the lon/lat transform leaves hairline gaps at T-junctions."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    out = geoms.copy()
    for i in np.unique(a):
        nb = b[(a == i) & (b != i)]
        if len(nb):
            pts = shapely.multipoints(shapely.get_coordinates(shapely.boundary(geoms[nb])))
            out[i] = shapely.snap(geoms[i], pts, 0.001)
    return out


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label per node (union-find)."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygon parts of intersection results (drop stray lines/points)."""
    out = geoms.copy()
    for i in np.nonzero(shapely.get_type_id(geoms) == 7)[0]:   # GeometryCollection
        parts = [p for p in shapely.get_parts(geoms[i]) if p.geom_type in ("Polygon", "MultiPolygon")]
        out[i] = shapely.union_all(parts)
    return out


def _merge_slivers(geoms: np.ndarray, nominal: np.ndarray, comm: np.ndarray) -> np.ndarray:
    """Cells cut by the town boundary to under 30 % of their size join the same-community
    neighbour they share the longest edge with (so no grid is a useless sliver)."""
    geoms = geoms.copy()
    small = np.nonzero(shapely.area(geoms) < 0.3 * nominal)[0]
    small = small[np.argsort(shapely.area(geoms[small]))]
    tree = shapely.STRtree(geoms)
    for i in small:
        if shapely.is_empty(geoms[i]):
            continue
        cand = tree.query(geoms[i], predicate="touches")
        cand = [j for j in cand if j != i and comm[j] == comm[i] and not shapely.is_empty(geoms[j])
                and shapely.area(geoms[j]) >= 0.3 * nominal[j]]
        if not cand:
            continue
        shared = shapely.length(shapely.intersection(geoms[cand], geoms[i]))
        j = cand[int(np.argmax(shared))]
        if shared.max() <= 0:
            continue
        geoms[j] = shapely.union(geoms[j], geoms[i])
        geoms[i] = Polygon()
    return geoms


def _roads(rng, town: Town, ox, oy, nx, ny, zone, bi, bj, inside) -> list[dict]:  # noqa: C901 — the synthetic road network, step by step
    """Arterials on a few 600 m lines through the core plus a diagonal highway, streets on every
    300 m line of the built-up zones, lanes in the villages and some field roads."""
    b = town.boundary
    cx, cy = town.core_center
    roads: list[dict] = []
    xs = ox + np.arange(nx * 2 + 1) * BLOCK
    ys = oy + np.arange(ny * 2 + 1) * BLOCK
    minx, miny, maxx, maxy = b.bounds
    # arterial lines: nearest block lines to the core centre ± 1200 m
    art_x = sorted({float(xs[np.argmin(np.abs(xs - (cx + d)))]) for d in (-1200, 0, 1500)})
    art_y = sorted({float(ys[np.argmin(np.abs(ys - (cy + d)))]) for d in (-900, 600)})
    art_names = list(names.ARTERIAL_NAMES)
    lines = []
    for x in art_x:
        lines.append(LineString([(x, miny - 10), (x, maxy + 10)]))
    for y in art_y:
        lines.append(LineString([(minx - 10, y), (maxx + 10, y)]))
    a = np.deg2rad(rng.uniform(20, 35))
    lines.append(LineString([(cx - 9000 * np.cos(a), cy - 300 - 9000 * np.sin(a)),
                             (cx + 9000 * np.cos(a), cy - 300 + 9000 * np.sin(a))]))
    for i, ln in enumerate(lines):
        for part in shapely.get_parts(shapely.line_merge(shapely.intersection(ln, b))):
            if part.geom_type == "LineString" and part.length > 50:
                roads.append({"name": art_names[i % len(art_names)], "class": "arterial", "geom": part})

    # streets: 300 m lines, segment by segment where a neighbouring block is built-up
    built = np.isin(zone, ["core", "suburban"]) & inside
    nbx, nby = nx * 2, ny * 2
    grid_built = np.zeros((nbx, nby), dtype=bool)
    grid_built[bi[built], bj[built]] = True
    grid_rural = np.zeros((nbx, nby), dtype=bool)
    rural = (zone == "rural") & inside
    grid_rural[bi[rural], bj[rural]] = True
    stems = list(names.STREET_STEMS)
    rng.shuffle(stems)
    used_names: set[str] = set()

    def street_name(k: int, ew: bool) -> str:
        suffixes = names.STREET_SUFFIX_EW if ew else names.STREET_SUFFIX_NS
        for t in range(len(stems) * len(suffixes)):
            n = stems[(k + t) % len(stems)] + suffixes[(k + t) // len(stems) % len(suffixes)]
            if n not in used_names and n not in names.ARTERIAL_NAMES:
                used_names.add(n)
                return n
        return f"{stems[k % len(stems)]}{k}号路"

    k = 0
    for i in range(1, nbx):          # north-south lines x = xs[i]
        if xs[i] in art_x:
            continue
        segs = [LineString([(xs[i], ys[j]), (xs[i], ys[j + 1])])
                for j in range(nby) if grid_built[i - 1, j] or grid_built[i, j]]
        fsegs = [LineString([(xs[i], ys[j]), (xs[i], ys[j + 1])])
                 for j in range(nby) if not (grid_built[i - 1, j] or grid_built[i, j])
                 and (grid_rural[i - 1, j] or grid_rural[i, j]) and i % 2 == 0]
        k = _add_lines(roads, segs, b, "street", lambda: street_name(k, False), k)  # noqa: B023 — called inside
        _add_lines(roads, fsegs, b, "lane", lambda: "乡村路", 0)
    for j in range(1, nby):          # east-west lines y = ys[j]
        if ys[j] in art_y:
            continue
        segs = [LineString([(xs[i], ys[j]), (xs[i + 1], ys[j])])
                for i in range(nbx) if grid_built[i, j - 1] or grid_built[i, j]]
        fsegs = [LineString([(xs[i], ys[j]), (xs[i + 1], ys[j])])
                 for i in range(nbx) if not (grid_built[i, j - 1] or grid_built[i, j])
                 and (grid_rural[i, j - 1] or grid_rural[i, j]) and j % 2 == 0]
        k = _add_lines(roads, segs, b, "street", lambda: street_name(k, True), k)  # noqa: B023 — called inside
        _add_lines(roads, fsegs, b, "lane", lambda: "乡村路", 0)

    # village lanes: a small 100 m mesh around each village centre, clipped to its village
    for c in town.communities:
        if c["kind"] != "村":
            continue
        sx, sy = c["seed"]
        r = 260
        vl = [LineString([(sx + d, sy - r), (sx + d, sy + r)]) for d in np.arange(-r + 60, r, 110)]
        vl += [LineString([(sx - r, sy + d), (sx + r, sy + d)]) for d in np.arange(-r + 60, r, 110)]
        g = shapely.intersection(MultiLineString(vl), shapely.intersection(c["geom"], b.buffer(-15)))
        g = shapely.line_merge(g) if not g.is_empty else g
        base = c["name"].removesuffix("村")
        for n_i, part in enumerate(shapely.get_parts(g)):
            if part.geom_type == "LineString" and part.length > 30:
                roads.append({"name": f"{base}{'东西南北中'[n_i % 5]}{n_i // 5 + 1}巷", "class": "lane",
                              "geom": part})
    return roads


def _add_lines(roads, segs, boundary, cls, namer, k):
    if not segs:
        return k
    merged = shapely.line_merge(shapely.intersection(MultiLineString(segs), boundary))
    for part in shapely.get_parts(merged):
        if part.geom_type == "LineString" and part.length > 20:
            roads.append({"name": namer(), "class": cls, "geom": part})
            k += 1
    return k
