"""Points of interest (POI) with Chinese names, aliases and pinyin for search: the town
government, markets, schools, clinics, squares, bus stops, residential compounds, village
committees, and shops and restaurants along the streets."""
from __future__ import annotations

import numpy as np
import shapely
from pypinyin import Style, lazy_pinyin

from civicgrid.demo import names

CATEGORY = {  # internal kind → stored category (zh-CN, shown in the UI)
    "government": "政府机构", "market": "农贸市场", "school": "学校", "clinic": "医疗卫生", "square": "广场公园",
    "bus_stop": "公交车站", "residential": "住宅小区", "village_committee": "村委会", "shop": "购物",
    "restaurant": "餐饮", "pharmacy": "医疗卫生", "hotel": "住宿", "auto": "汽车服务",
}
LANDMARKS = [
    ("government", "仁和镇人民政府", ["镇政府", "仁和镇政府"]),
    ("market", "仁和农贸市场", ["仁和菜市场"]), ("market", "石园菜市场", []), ("market", "沙井早市", ["沙井村早市"]),
    ("school", "仁和中心小学", ["仁和小学"]), ("school", "仁和中学", []), ("school", "石园小学", []),
    ("school", "裕龙幼儿园", []), ("school", "双兴幼儿园", []), ("school", "顺义区第十五中学", ["十五中"]),
    ("clinic", "仁和社区卫生服务中心", ["仁和卫生院"]), ("clinic", "石园社区卫生服务站", []),
    ("clinic", "裕龙社区卫生服务站", []),
    ("square", "仁和文化广场", ["文化广场"]), ("square", "石园休闲广场", []), ("square", "双河公园", ["双河湿地公园"]),
]


def pinyin(name: str) -> tuple[str, str]:
    syl = lazy_pinyin(name, errors="ignore")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syl), "".join(initials)


def generate(rng: np.random.Generator, town, grid_tree, scale: float) -> list[dict]:
    geoms = grid_tree.geometries
    zones = np.array([g["zone"] for g in town.grids])
    comm_of = [g["community_code"] for g in town.grids]
    built = np.nonzero(np.isin(zones, ["core"]))[0]
    roads = [r for r in town.roads if r["class"] in ("arterial", "street")]
    road_geoms = np.array([r["geom"] for r in roads], dtype=object)
    pois: list[dict] = []

    def near_road(n, classes=("arterial", "street"), off=(12, 25), where=None):
        idx = [i for i, r in enumerate(roads) if r["class"] in classes]
        lens = shapely.length(road_geoms[idx])
        pick = rng.choice(idx, size=n, p=lens / lens.sum())
        d = rng.uniform(0, 1, n) * shapely.length(road_geoms[pick])
        p = shapely.get_coordinates(shapely.line_interpolate_point(road_geoms[pick], d))
        q = shapely.get_coordinates(shapely.line_interpolate_point(road_geoms[pick], d + 1))
        t = q - p
        t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
        side = rng.choice([-1, 1], n) * rng.uniform(*off, n)
        return p + np.column_stack([-t[:, 1], t[:, 0]]) * side[:, None]

    # landmarks in the core, the government next to the core centre
    cx, cy = town.core_center
    for kind, name, alias in LANDMARKS:
        if kind == "government":
            xy = (cx + 40.0, cy + 30.0)
        else:
            gi = built[rng.integers(len(built))]
            c = shapely.point_on_surface(geoms[gi])
            xy = (c.x, c.y)
        pois.append({"kind": kind, "name": name, "alias": alias, "xy": xy})
    for c in town.communities:
        if c["kind"] == "村":
            sx, sy = c["seed"]
            pois.append({"kind": "village_committee", "name": f"{c['name']}村民委员会",
                         "alias": [f"{c['name']}村委会", c["name"]], "xy": (sx + 20, sy + 20)})
    # bus stops every ~500 m on arterials
    for r in town.roads:
        if r["class"] != "arterial":
            continue
        for n_i, d in enumerate(np.arange(250, r["geom"].length, 520)):
            p = r["geom"].interpolate(d)
            pois.append({"kind": "bus_stop", "name": f"{r['name']}{n_i + 1}号站", "alias": [],
                         "xy": (p.x + 10, p.y + 10)})
    # residential compounds: about one per four core grids
    n_res = len(built) // 4
    gsel = rng.choice(built, n_res, replace=False)
    seen = set()
    for gi in np.sort(gsel):
        stem = names.COMPOUND_STEMS[rng.integers(len(names.COMPOUND_STEMS))]
        suf = names.COMPOUND_SUFFIX[rng.integers(len(names.COMPOUND_SUFFIX))]
        name = stem + suf
        k = 1
        while name in seen:
            k += 1
            name = f"{stem}{suf}{'一二三四五六七八九十'[min(k, 10) - 1]}区" if k <= 10 else f"{stem}{suf}{k}期"
        seen.add(name)
        c = shapely.point_on_surface(geoms[gi])
        pois.append({"kind": "residential", "name": name, "alias": [], "xy": (c.x, c.y)})
    # shops and restaurants fill up to ~2,000 × scale
    n_shop = max(20, int(round(2000 * scale)) - len(pois))
    xy = near_road(n_shop)
    kinds = rng.integers(0, len(names.SHOP_KINDS), n_shop)
    pref = rng.integers(0, len(names.SHOP_PREFIX), n_shop)
    for i in range(n_shop):
        label, kind = names.SHOP_KINDS[kinds[i]]
        name = names.SHOP_PREFIX[pref[i]] + label
        k = 1
        while name in seen:
            k += 1
            name = f"{names.SHOP_PREFIX[pref[i]]}{label}（{k}店）"
        seen.add(name)
        pois.append({"kind": kind, "name": name, "alias": [names.SHOP_PREFIX[pref[i]]], "xy": tuple(xy[i])})

    # locate: grid → community; address from the nearest named road
    pts = shapely.points(np.array([p["xy"] for p in pois]))
    pi, gi = grid_tree.query(pts, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    grid_of = dict(zip(pi[first].tolist(), gi[first].tolist()))
    all_roads = np.array([r["geom"] for r in town.roads], dtype=object)
    rtree = shapely.STRtree(all_roads)
    near = rtree.query_nearest(pts, all_matches=False, return_distance=False)[1]
    out = []
    for i, p in enumerate(pois):
        if i not in grid_of:
            continue      # fell outside the town
        r = town.roads[near[i]]
        num = int(shapely.line_locate_point(r["geom"], pts[i]) // 15) * 2 + 1
        py, ini = pinyin(p["name"])
        out.append({**p, "category": CATEGORY[p["kind"]], "pinyin": py, "pinyin_initials": ini,
                    "address": f"{r['name']}{num}号" if r["name"] != "乡村路" else f"{names.TOWN_NAME}{r['name']}",
                    "community_code": comm_of[grid_of[i]], "geom": pts[i]})
    return out
