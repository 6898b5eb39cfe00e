"""Departments (with valid 统一社会信用代码), who handles what where, officers (网格员) and their
responsibility grids (责任网格)."""
from __future__ import annotations

import numpy as np
import shapely

from civicgrid.demo import names

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)           # GB 11714 organisation code check digit


def uscc_check(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(prefix: str, rng: np.random.Generator) -> str:
    digits = "".join(str(d) for d in rng.integers(0, 10, 8))
    org_sum = sum(int(d) * w for d, w in zip(digits, ORG_WEIGHTS))
    c9 = 11 - org_sum % 11
    org = digits + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    body = prefix + names.DISTRICT_CODE + org
    return body + uscc_check(body)


def departments(rng: np.random.Generator) -> list[dict]:
    out = []
    for name, short, kind, prefix in names.DEPARTMENTS:
        phone = "010-6" + "".join(str(d) for d in rng.integers(0, 10, 7))
        out.append({"code": make_uscc(prefix, rng), "name": name, "short_name": short, "kind": kind,
                    "phone": phone})
    return out


# Who handles what, by short name: (standard, kind, category prefix) → department.
# Majors cover everything town-wide; 5-digit rules send utilities to their owners. Community
# overrides are only given on majors that have no 5-digit rule, so "longest category first" and
# "longest area first" resolve to the same department.
_GB, _CJ = "GB/T 47678.5-2026", "CJ/T 214-2007"
MAJOR_RULES = [
    (_GB, "component", "01", "镇城管办"), (_GB, "component", "02", "区交通局"),
    (_GB, "component", "03", "镇环卫中心"), (_GB, "component", "04", "仁和园林所"),
    (_GB, "component", "05", "区住建委"),
    (_GB, "matter", "01", "镇城管办"), (_GB, "matter", "02", "区交通局"), (_GB, "matter", "03", "镇环卫中心"),
    (_GB, "matter", "04", "仁和园林所"), (_GB, "matter", "05", "区住建委"), (_GB, "matter", "06", "镇环卫中心"),
    (_GB, "matter", "07", "仁和执法队"), (_GB, "matter", "08", "区住建委"), (_GB, "matter", "09", "仁和执法队"),
    (_GB, "matter", "10", "镇城管办"),
    (_CJ, "component", "01", "镇城管办"), (_CJ, "component", "02", "区交通局"), (_CJ, "component", "03", "镇环卫中心"),
    (_CJ, "component", "04", "仁和园林所"), (_CJ, "component", "05", "区住建委"), (_CJ, "component", "06", "镇城管办"),
    (_CJ, "event", "01", "镇环卫中心"), (_CJ, "event", "02", "仁和执法队"), (_CJ, "event", "03", "区住建委"),
    (_CJ, "event", "04", "仁和派出所"), (_CJ, "event", "05", "仁和执法队"),
]
TYPE_RULES = {
    "01001": "自来水顺义分公司", "01024": "自来水顺义分公司", "01025": "自来水顺义分公司",
    "01002": "排水集团顺义分公司", "01003": "排水集团顺义分公司", "01004": "排水集团顺义分公司",
    "01018": "排水集团顺义分公司", "01019": "排水集团顺义分公司",
    "01005": "仁和供电所", "01017": "仁和供电所", "01028": "仁和供电所", "01029": "仁和供电所",
    "01030": "仁和供电所", "01047": "仁和供电所", "01048": "仁和供电所",
    "01006": "区路灯所", "01037": "区路灯所", "01038": "区路灯所", "01039": "区路灯所",
    "01007": "顺义联通", "01027": "顺义联通", "01031": "顺义移动", "01009": "顺义移动", "01008": "歌华有线顺义",
    "01010": "区热力公司", "01011": "燃气顺义分公司", "01049": "燃气顺义分公司", "01012": "仁和派出所",
    "01013": "仁和消防站", "01050": "仁和派出所", "01051": "仁和派出所",
    "02004": "公交顺义分公司", "02032": "公交顺义分公司", "02014": "交通支队仁和大队",
    "02015": "交通支队仁和大队", "02016": "交通支队仁和大队", "02010": "交通支队仁和大队",
    "02017": "区公路分局", "02018": "区公路分局", "02043": "区公路分局",
    "03010": "区生态环境局", "03011": "区水务局", "03012": "区水务局", "03013": "区生态环境局",
    "04001": "仁和园林所", "04013": "仁和园林所", "04014": "镇农服中心",
    "05003": "仁和市场监管所", "05009": "区文旅局",
}
# community-specific overrides on a major: (community name, major, department short name)
COMMUNITY_RULES = [
    ("沙井村", "06", "沙井村委会"), ("河南村", "06", "河南村委会"), ("石园东区社区", "06", "石园东区居委会"),
    ("沙井村", "09", "仁和镇政府"), ("河南村", "09", "仁和镇政府"),
]


def responsibilities(depts: list[dict], communities: list[dict]) -> list[dict]:
    by_short = {d["short_name"]: d["code"] for d in depts}
    town = names.TOWN_CODE
    rows = [{"department_code": by_short[s], "standard": st, "kind": k, "category_prefix": p, "area_prefix": town}
            for st, k, p, s in MAJOR_RULES]
    for code, short in TYPE_RULES.items():
        for kind in ("component", "matter"):
            rows.append({"department_code": by_short[short], "standard": _GB, "kind": kind,
                         "category_prefix": code, "area_prefix": town})
    comm_code = {c["name"]: c["code"] for c in communities}
    for cname, major, short in COMMUNITY_RULES:
        if cname in comm_code:
            rows.append({"department_code": by_short[short], "standard": _GB, "kind": "matter",
                         "category_prefix": major, "area_prefix": comm_code[cname]})
    return rows


class Resolver:
    """category × area → department, the longest category prefix first, then the longest area."""

    def __init__(self, rows: list[dict]):
        self.rules = sorted(rows, key=lambda r: (-len(r["category_prefix"]), -len(r["area_prefix"])))
        self.cache: dict = {}

    def __call__(self, standard: str, kind: str, code: str, area: str) -> str:
        key = (standard, kind, code, area[:12])
        if key not in self.cache:
            self.cache[key] = next(r["department_code"] for r in self.rules
                                   if r["standard"] == standard and r["kind"] == kind
                                   and code.startswith(r["category_prefix"]) and area.startswith(r["area_prefix"]))
        return self.cache[key]


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    out, seen = [], set()
    while len(out) < n:
        s = names.SURNAMES[rng.integers(len(names.SURNAMES))]
        g = "".join(names.GIVEN_CHARS[i] for i in rng.integers(0, len(names.GIVEN_CHARS), rng.integers(1, 3)))
        if s + g not in seen:
            seen.add(s + g)
            out.append(s + g)
    return out


def responsibility_grids(rng: np.random.Generator, town, total: int = 60) -> tuple[list[dict], list[dict]]:
    """Split each community's unit grids into compact groups (k-means on the centroids, area
    weighted) — one group per officer; groups per community by grid count and area."""
    comm_codes = [c["code"] for c in town.communities]
    grid_comm = np.array([g["community_code"] for g in town.grids])
    geoms = np.array([g["geom"] for g in town.grids])
    cent = shapely.get_coordinates(shapely.centroid(geoms))
    area = shapely.area(geoms)
    count = np.array([(grid_comm == c).sum() for c in comm_codes], dtype=float)
    carea = np.array([area[grid_comm == c].sum() for c in comm_codes])
    w = 0.75 * count / count.sum() + 0.25 * carea / carea.sum()
    k = np.maximum(1, np.floor(w * total)).astype(int)
    while k.sum() < total:                       # largest remainders get the spare officers
        k[np.argmax(w * total - k)] += 1
    from civicgrid.demo.geography import make_contiguous

    cluster = np.zeros(len(geoms), dtype=int)
    for ci, code in enumerate(comm_codes):
        idx = np.nonzero(grid_comm == code)[0]
        cluster[idx] = ci * 1000 + _kmeans(cent[idx], area[idx], min(k[ci], idx.size), rng)
    comm_index = np.array([comm_codes.index(c) for c in grid_comm])
    cluster = make_contiguous(cluster, town.adj_pairs, town.adj_len, area, groups=comm_index)
    rgs, members = [], []
    for ci, code in enumerate(comm_codes):
        idx = np.nonzero(grid_comm == code)[0]
        _, labels = np.unique(cluster[idx], return_inverse=True)
        # number the groups north→south, west→east by their centroid
        gc = np.array([cent[idx[labels == l]].mean(0) for l in range(labels.max() + 1)])
        order = np.lexsort((gc[:, 0], -gc[:, 1]))
        for n, l in enumerate(order, start=1):
            rcode = f"{code}Z{n:02d}"
            rgs.append({"code": rcode, "community_code": code,
                        "name": f"{town.communities[ci]['name']}第{n}责任网格"})
            members += [{"unit_grid_code": town.grids[i]["code"], "responsibility_grid_code": rcode}
                        for i in idx[labels == l]]
    return rgs, members


def _kmeans(pts: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator, iters: int = 25) -> np.ndarray:
    if k <= 1:
        return np.zeros(len(pts), dtype=int)
    # deterministic farthest-point initialisation from the north-west-most point
    start = int(np.argmin(pts[:, 0] - pts[:, 1]))
    centers = [pts[start]]
    for _ in range(k - 1):
        d = np.min(((pts[:, None, :] - np.array(centers)[None]) ** 2).sum(-1), axis=1)
        centers.append(pts[int(np.argmax(d))])
    centers = np.array(centers)
    for _ in range(iters):
        labels = np.argmin(((pts[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
        for l in range(k):
            m = labels == l
            if m.any():
                centers[l] = (pts[m] * w[m, None]).sum(0) / w[m].sum()
    labels = np.argmin(((pts[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    # relabel densely (an empty cluster would leave a gap in the numbering)
    _, labels = np.unique(labels, return_inverse=True)
    return labels
