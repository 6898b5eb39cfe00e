"""Drill: kill -9 of the server during 8-way intake. Every case acknowledged before the kill is
there after a restart, nothing is duplicated, and replaying each Idempotency-Key (acknowledged or
left without an answer) gives one case per key — the same one for the acknowledged."""
from __future__ import annotations

import os
import random
import signal
import threading

import httpx
from databases import start_server

from civicgrid.db import connect
from civicgrid.security.testing import Credentials

CLIENTS = 8
ACKED_BEFORE_KILL = 30   # then SIGKILL: enough to have requests in flight on every client


def _payload(key: str, rng: random.Random) -> dict:
    return {"channel": "district", "external_id": key, "category_code": "09005",
            "lon": round(116.6095 + rng.random() * 0.001, 6), "lat": round(40.1195 + rng.random() * 0.001, 6)}


def test_kill_9_during_8_way_intake_loses_and_duplicates_nothing(demo_copy):
    headers = Credentials(demo_copy).headers("district_platform")
    proc, base = start_server(demo_copy)
    acked: dict[str, int] = {}       # key → case id answered before the kill
    sent: dict[str, dict] = {}       # every key a request was started for
    lock = threading.Lock()
    enough = threading.Event()
    dead = threading.Event()

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            i = 0
            while not dead.is_set():
                key = f"drill-{n}-{i}"
                body = _payload(key, rng)
                with lock:
                    sent[key] = body
                try:
                    r = http.post("/api/cases", json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    return    # the server is gone: this request's fate is unknown
                if r.status_code in (200, 201):
                    with lock:
                        acked[key] = r.json()["id"]
                        if len(acked) >= ACKED_BEFORE_KILL:
                            enough.set()
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(120), "intake did not get going"
        os.kill(proc.pid, signal.SIGKILL)
        dead.set()
        for t in threads:
            t.join(30)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before_kill = dict(acked)

    proc, base = start_server(demo_copy)
    try:
        replayed = {}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            for key, body in sent.items():
                r = http.post("/api/cases", json=body, headers={"Idempotency-Key": key})
                assert r.status_code in (200, 201), r.text
                replayed[key] = (r.json()["id"], r.status_code)
    finally:
        proc.terminate()
        proc.wait(30)

    # the acknowledged ones replay to the same case; the rest exist exactly once now
    assert all(replayed[k] == (case_id, 200) for k, case_id in before_kill.items())
    with connect(demo_copy) as conn:
        rows = conn.execute("SELECT external_id, count(*) AS n FROM cases WHERE external_id LIKE 'drill-%%' "
                            "GROUP BY 1").fetchall()
    counts = {r["external_id"]: r["n"] for r in rows}
    assert set(counts) == set(sent) and set(counts.values()) == {1}
    print(f"drill: {len(before_kill)} acknowledged before kill -9, {len(sent) - len(before_kill)} unanswered, "
          f"{len(sent)} cases after replay, 0 lost, 0 duplicates")
    assert len(before_kill) >= ACKED_BEFORE_KILL and len(sent) - len(before_kill) <= CLIENTS   # at most one unanswered per client
