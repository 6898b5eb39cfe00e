"""Exchange bench: the district outbox drained against the fake district on loopback.

    .venv/bin/python bench/exchange/run.py [--events 10000] [--cases 500] [--latency 100]

Starts a throwaway PostgreSQL cluster (or uses BENCH_DATABASE_URL), migrates it, builds the small
test town with `--cases` cases and a backlog of `--events` case events (the outbox trigger writes one
row each), then
1. drains the backlog with one worker, then a second backlog with two workers at once (events/s;
   target ≥ 200/s), every event signed (HMAC) and built from the default mapping file;
2. with the worker idle (sleeping on LISTEN), commits `--latency` single case changes one at a time
   and times each from its commit to its arrival at the fake district (target p95 ≤ 2 s).
Prints a table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from civicgrid.testing import free_port  # noqa: E402

SECRET = "bench-secret"


def prepare(url: str, n_cases: int) -> list[int]:
    from civicgrid.cases import testing
    from civicgrid.db import connect, migrate

    migrate(url)
    with connect(url) as conn:
        testing.build_town(conn)
        conn.execute("SELECT set_config('civicgrid.outbox', 'off', true)")   # the cases themselves are no backlog
        ids = [r["id"] for r in conn.execute("""
            INSERT INTO cases (case_number, channel, category_kind, category_code, state, workflow, workflow_version,
                               geom)
            SELECT t.code || to_char(now(), 'YYYYMMDD') || lpad(g::text, 6, '0'), 'patrol', 'matter', '06010',
                   'filed', 'standard', 1, ST_SetSRID(ST_MakePoint(116.605, 40.12), 4490)
            FROM generate_series(1, %s) g CROSS JOIN (SELECT code FROM town LIMIT 1) t
            RETURNING id""", [n_cases])]
        conn.execute("INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role) "
                     "SELECT id, 1, 'report', NULL, 'filed', 'bench', 'grid_officer' FROM cases")
    return ids


def backlog(url: str, ids: list[int], events: int, first_seq: int) -> float:
    """`events` events spread over the cases in one statement; returns seconds taken (trigger included)."""
    from civicgrid.db import connect

    per_case = max(1, events // len(ids))
    t0 = time.perf_counter()
    with connect(url) as conn:
        conn.execute("INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, comment) "
                     "SELECT c, %s + s, 'urge', 'filed', 'filed', 'bench', 'dispatcher', '催办' "
                     "FROM unnest(%s::bigint[]) c, generate_series(1, %s) s", [first_seq, ids, per_case])
    return time.perf_counter() - t0


def settings(url: str):
    return SimpleNamespace(dsn=url, district_max_attempts=12, district_backoff=0.5, district_backoff_max=5)


def drain_with(url: str, fake, workers: int) -> tuple[int, float]:
    from civicgrid.exchange import adapters, outbox

    mapping = adapters.load_mapping(adapters.MAPPINGS / "default.yml")
    start = len(fake.accepted)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=outbox.drain, args=(url, adapters.JsonAdapter(
        fake.url + "/events", mapping, SECRET, None, 10), settings(url))) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(fake.accepted) - start, time.perf_counter() - t0


def latency(url: str, fake, ids: list[int], n: int, first_seq: int) -> list[float]:
    from civicgrid.db import connect
    from civicgrid.exchange import adapters, outbox

    adapter = adapters.JsonAdapter(fake.url + "/events", adapters.load_mapping(adapters.MAPPINGS / "default.yml"),
                                   SECRET, None, 10)
    stop = outbox.start_background(settings(url), adapter)
    out = []
    try:
        time.sleep(1.0)    # the worker is idle, waiting on LISTEN
        with connect(url, autocommit=True) as conn:
            for i in range(n):
                cid = ids[i % len(ids)]
                seq = first_seq + i
                number = conn.execute(
                    "INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role) "
                    "VALUES (%s, %s, 'urge', 'filed', 'filed', 'bench', 'dispatcher') "
                    "RETURNING (SELECT case_number FROM cases WHERE id = %s)", [cid, seq, cid]).fetchone()["case_number"]
                committed = time.perf_counter()
                key = f"{number}-{seq}"
                while key not in fake.arrived:
                    if time.perf_counter() - committed > 10:
                        raise RuntimeError(f"{key} did not arrive within 10 s")
                    time.sleep(0.0005)
                out.append(fake.arrived[key] - committed)
                time.sleep(0.05)   # idle again before the next change
    finally:
        stop.set()
        time.sleep(1.2)   # the worker sees the stop within a second, before the cluster goes away
    return out


def main():
    from civicgrid.exchange.testing import FakeDistrict

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--latency", type=int, default=100)
    args = ap.parse_args()
    cluster = None
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        from civicgrid.db.cluster import Cluster

        base_dir = Path(tempfile.mkdtemp(prefix="exchange-bench-pg-"))
        os.chmod(base_dir, 0o755)
        cluster = Cluster(data_dir=base_dir / "data", port=free_port(), db_name="bench", durable=False)
        cluster.start()
        url = f"postgresql://{cluster.user}@127.0.0.1:{cluster.port}/bench"
    try:
        ids = prepare(url, args.cases)
        per_case = max(1, args.events // len(ids))
        with FakeDistrict(secret=SECRET) as fake:
            rows = []
            enqueue = backlog(url, ids, args.events, 1)
            n, secs = drain_with(url, fake, 1)
            rows.append(("backlog drained, 1 worker", n, secs))
            backlog(url, ids, args.events, 1 + per_case)
            n2, secs2 = drain_with(url, fake, 2)
            rows.append(("backlog drained, 2 workers", n2, secs2))
            lat = latency(url, fake, ids, args.latency, 2 + 2 * per_case)
            dup = sum(1 for c in fake.counts.values() if c > 1)
        lat_ms = sorted(x * 1000 for x in lat)
        p95 = lat_ms[max(0, int(round(0.95 * len(lat_ms))) - 1)]
        print(f"\nexchange bench: {args.events} events over {len(ids)} cases per backlog, fake district on loopback "
              f"(HMAC-signed JSON, default mapping), {os.cpu_count()} CPUs (shared, load {os.getloadavg()[0]:.1f})\n")
        print("| measure                              |  events | seconds | events/s | target   |")
        print("| ------------------------------------ | ------: | ------: | -------: | -------- |")
        print(f"| enqueue (trigger, one statement)     | {args.events:7d} | {enqueue:7.2f} | {args.events / enqueue:8.0f} |          |")
        for label, count, s in rows:
            print(f"| {label:<36} | {count:7d} | {s:7.2f} | {count / s:8.0f} | ≥ 200/s  |")
        print(f"\n| change → delivery, worker idle | n = {len(lat_ms)} | p50 {statistics.median(lat_ms):.0f} ms "
              f"| p95 {p95:.0f} ms | max {lat_ms[-1]:.0f} ms | target p95 ≤ 2000 ms |")
        print(f"\nkeys received more than once at the district: {dup}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
