"""Search bench: GET /api/search on the demo town, p50/p95 over a set of realistic queries, beside
a naive peer (ILIKE '%q%' over the same tables and columns, no ranking) measured in the same run.

    make bench-search          # private cluster under .data/bench, the demo town loaded if empty
    .venv/bin/python bench/search/run.py [--rounds 3] [--seed 1]

The queries come from the loaded town: POI names, their first characters, pinyin initials, full
pinyin, one-character typos, addresses, case numbers (whole and prefixes), component IDs, unit-grid
codes and community names. Each is asked as a dispatcher (who may see cases and components).
`top-1` is the share of queries with a known answer whose first result is that answer.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import httpx

from civicgrid.db import connect
from civicgrid.search import find
from civicgrid.security import policy as policy_mod
from civicgrid.security.principal import Principal
from civicgrid.settings import get_settings
from civicgrid.testing import start_server

NAIVE = """
SELECT * FROM (
  (SELECT 'poi' AS type, id::text AS id, name AS title FROM poi
   WHERE name ILIKE %(sub)s OR array_to_string(alias, ' ') ILIKE %(sub)s OR pinyin ILIKE %(sub)s
      OR pinyin_initials ILIKE %(sub)s LIMIT %(limit)s)
  UNION ALL (SELECT 'address', id::text, address FROM poi WHERE address ILIKE %(sub)s LIMIT %(limit)s)
  UNION ALL (SELECT 'community', code, name FROM community WHERE name ILIKE %(sub)s OR code ILIKE %(sub)s LIMIT %(limit)s)
  UNION ALL (SELECT 'unit_grid', code, coalesce(name, code) FROM unit_grid WHERE code ILIKE %(sub)s OR name ILIKE %(sub)s
             LIMIT %(limit)s)
  UNION ALL (SELECT 'component', id, id FROM component WHERE id ILIKE %(sub)s LIMIT %(limit)s)
  UNION ALL (SELECT 'case', id::text, case_number FROM cases WHERE case_number ILIKE %(sub)s LIMIT %(limit)s)
) x LIMIT %(limit)s
"""


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name)) if len(name) > 2 else 0
    return name[:i] + "的" + name[i + 1:]


def queries(conn, rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(kind, q, expected title or None)"""
    pois = conn.execute("SELECT name, pinyin, pinyin_initials, address FROM poi ORDER BY id").fetchall()
    landmarks = [p for p in pois if len(p["name"]) >= 4][:200]
    pick = lambda rows, n: rng.sample(rows, min(n, len(rows)))  # noqa: E731
    out = [("name", p["name"], p["name"]) for p in pick(landmarks, 15)]
    out += [("name prefix", p["name"][:2], None) for p in pick(landmarks, 10)]
    out += [("one character", p["name"][:1], None) for p in pick(landmarks, 5)]
    out += [("pinyin initials", p["pinyin_initials"][:3], None) for p in pick(landmarks, 10)]
    out += [("full pinyin", p["pinyin"], p["name"]) for p in pick(landmarks, 10)]
    out += [("typo", typo(p["name"], rng), p["name"]) for p in pick([p for p in landmarks if len(p["name"]) >= 5], 10)]
    out += [("address", p["address"], p["address"]) for p in pick([p for p in pois if p["address"]], 10)]
    out.append(("pinyin initials", "rhz", "仁和镇人民政府"))
    cases = [r["case_number"] for r in conn.execute("SELECT case_number FROM cases TABLESAMPLE SYSTEM (5) LIMIT 200")]
    out += [("case number", c, c) for c in pick(cases, 10)] + [("case prefix", c[:14], None) for c in pick(cases, 5)]
    comps = [r["id"] for r in conn.execute("SELECT id FROM component TABLESAMPLE SYSTEM (1) LIMIT 200")]
    out += [("component ID", c, c) for c in pick(comps, 10)]
    grids = [r["code"] for r in conn.execute("SELECT code FROM unit_grid ORDER BY random() LIMIT 20")]
    out += [("unit-grid code", g, None) for g in pick(grids, 5)]
    comms = [r["name"] for r in conn.execute("SELECT name FROM community ORDER BY code")]
    out += [("community", c, c) for c in pick(comms, 5)]
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def row(name: str, times: list[float], top1: tuple[int, int] | None) -> str:
    t = f"{top1[0]}/{top1[1]}" if top1 else "—"
    return (f"| {name:<34} | {len(times):>5} | {statistics.median(times):>7.1f} | {pct(times, 95):>7.1f} | "
            f"{max(times):>7.1f} | {t:>7} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    url = get_settings().dsn
    from civicgrid.security.testing import Credentials

    headers = Credentials(url).headers("dispatcher")
    with connect(url) as conn:
        qs = queries(conn, rng)
        user = conn.execute("SELECT u.id, u.username FROM app_user u JOIN app_user_role r ON r.user_id = u.id "
                            "WHERE r.role_code = 'dispatcher' ORDER BY u.id LIMIT 1").fetchone()
    principal = Principal(user=user["username"], roles=frozenset({"dispatcher"}), user_id=user["id"], via="key",
                          scopes=frozenset({"read", "write"}))
    proc, base = start_server(url)
    http, sql_ours, sql_naive = [], [], []
    hits = {"http": 0, "naive": 0}
    known = [q for q in qs if q[2]]
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client, connect(url) as conn:
            for _, q, _ in qs:                                  # warm-up: plans, caches
                client.get("/api/search", params={"q": q})
                find.search(conn, *find.parse(q, None), 10, principal)
            for r in range(args.rounds):
                for _, q, want in qs:
                    t = time.perf_counter()
                    res = client.get("/api/search", params={"q": q, "limit": 10})
                    http.append((time.perf_counter() - t) * 1000)
                    assert res.status_code == 200, res.text
                    items = res.json()["items"]
                    if r == 0 and want and items and items[0]["title"] == want:
                        hits["http"] += 1
                    t = time.perf_counter()
                    find.search(conn, *find.parse(q, None), 10, principal)
                    sql_ours.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    got = conn.execute(NAIVE, {"sub": "%" + find._like(q) + "%", "limit": 10}).fetchall()
                    sql_naive.append((time.perf_counter() - t) * 1000)
                    if r == 0 and want and got and got[0]["title"] == want:
                        hits["naive"] += 1
    finally:
        proc.terminate()
        proc.wait(10)
    policy_mod.load()
    print(f"\nsearch bench: {len(qs)} queries × {args.rounds} rounds on the loaded town ({url.rsplit('/', 1)[-1]}), limit 10, "
          "one client, times in ms")
    print("| method                             | calls |     p50 |     p95 |     max |   top-1 |")
    print("| ---------------------------------- | ----: | ------: | ------: | ------: | ------: |")
    print(row("civicgrid GET /api/search (HTTP)", http, (hits["http"], len(known))))
    print(row("civicgrid search SQL alone", sql_ours, None))
    print(row("peer: naive ILIKE '%q%' SQL", sql_naive, (hits["naive"], len(known))))
    by_kind: dict[str, list[float]] = {}
    n = len(qs)
    for i, t in enumerate(http):
        by_kind.setdefault(qs[i % n][0], []).append(t)
    print("\nGET /api/search by kind of query (p95 ms): " + ", ".join(f"{k} {pct(v, 95):.1f}" for k, v in by_kind.items()))
    target = pct(http, 95)
    print(f"target p95 ≤ 50 ms: {'met' if target <= 50 else 'NOT met'} ({target:.1f} ms)")


if __name__ == "__main__":
    main()
