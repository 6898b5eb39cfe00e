"""The delivery worker of the district outbox (db/migrations/1000_district_outbox.sql).

One batch = one transaction: claim due rows (sql/claim.sql: per case in order, advisory lock per
case, FOR UPDATE SKIP LOCKED), post each through the adapter, record every outcome in one statement
(sql/record.sql), commit. A worker killed mid-batch commits nothing, so after a restart the batch is
sent again; the district recognises the idempotency keys it already has (409 or the same 2xx) and
nothing lands twice. When a row fails, the rest of its case waits (order per case); it is retried
after `backoff` (exponential with full jitter, capped) until CIVICGRID_DISTRICT_MAX_ATTEMPTS, then it
is a dead letter (`dead`, with the last error) that holds its case back until re-sent (`resend`).

Runs beside the server (`lifespan`, when CIVICGRID_DISTRICT_URL is set) and as `civicgrid exchange
worker`; several may run at once. It sleeps on LISTEN district_outbox (the enqueue trigger notifies),
so a case change reaches the district within milliseconds when the worker is idle.
"""
from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

from psycopg.types.json import Jsonb

from civicgrid.db import connect, load_sql
from civicgrid.errors import Conflict, NotFound

log = logging.getLogger("civicgrid.exchange")

PACKAGE = "civicgrid.exchange"
LOCK_CLASS = 1000            # the advisory-lock class of outbox cases (pairs with the case id)
BATCH = 200


def backoff(attempts: int, base: float, cap: float, rng: random.Random = random) -> float:
    """Seconds before the next attempt after `attempts` failures: full jitter over base·2^(n-1), capped."""
    return rng.uniform(0, min(cap, base * 2 ** max(0, attempts - 1))) + base / 4


def _remote_ids(conn, case_ids: list[int]) -> dict[int, str]:
    rows = conn.execute("SELECT DISTINCT ON (case_id) case_id, response->>'service_request_id' AS rid "
                        "FROM district_outbox WHERE case_id = ANY(%s) AND kind = 'case.reported' "
                        "AND state = 'delivered' ORDER BY case_id, id", [case_ids]).fetchall()
    return {r["case_id"]: r["rid"] for r in rows if r["rid"]}


def run_batch(conn, adapter, settings, batch: int = BATCH) -> dict:
    """Deliver one batch inside the connection's transaction (committed by the caller); returns counts."""
    rows = conn.execute(load_sql(PACKAGE, "claim.sql"), {"batch": batch, "lock_class": LOCK_CLASS}).fetchall()
    counts = {"claimed": len(rows), "delivered": 0, "retry": 0, "dead": 0}
    if not rows:
        return counts
    remote = _remote_ids(conn, sorted({r["case_id"] for r in rows}))
    blocked: set[int] = set()
    results = []
    for row in rows:
        if row["case_id"] in blocked:
            continue
        doc = {**row["payload"], "idempotency_key": row["idempotency_key"], "kind": row["kind"]}
        out = adapter.deliver(doc, {"service_request_id": remote.get(row["case_id"])})
        now = datetime.now(timezone.utc)
        if out.ok:
            counts["delivered"] += 1
            if isinstance(out.response, dict) and out.response.get("service_request_id"):
                remote[row["case_id"]] = out.response["service_request_id"]
            results.append({"id": row["id"], "state": "delivered", "tried": 1, "delivered_at": now.isoformat(),
                            "next_attempt_at": None, "error": None, "response": out.response})
            continue
        blocked.add(row["case_id"])
        attempts = row["attempts"] + 1
        dead = not out.retry or attempts >= settings.district_max_attempts
        counts["dead" if dead else "retry"] += 1
        wait = backoff(attempts, settings.district_backoff, settings.district_backoff_max)
        results.append({"id": row["id"], "state": "dead" if dead else "pending", "tried": 1, "delivered_at": None,
                        "next_attempt_at": None if dead else (now + timedelta(seconds=wait)).isoformat(),
                        "error": out.error, "response": None})
    conn.execute(load_sql(PACKAGE, "record.sql"), {"results": Jsonb(results)})
    return counts


def drain(url: str, adapter, settings, batch: int = BATCH, max_batches: int = 1_000_000) -> dict:
    """Deliver until nothing is due (tests, the bench, `civicgrid exchange worker --once`)."""
    total = {"claimed": 0, "delivered": 0, "retry": 0, "dead": 0}
    with connect(url, autocommit=True) as conn:
        for _ in range(max_batches):
            with conn.transaction():
                counts = run_batch(conn, adapter, settings, batch)
            for k, v in counts.items():
                total[k] += v
            if not counts["claimed"]:
                break
    return total


def _next_due(conn) -> float | None:
    row = conn.execute("SELECT extract(epoch FROM min(next_attempt_at) - now()) AS s FROM district_outbox "
                       "WHERE state IN ('pending', 'delivering')").fetchone()
    return None if row["s"] is None else max(0.0, float(row["s"]))


def run_forever(settings, adapter, stop: threading.Event, poll: float = 30.0) -> None:
    """Deliver, then sleep until a notification, the next retry is due, or `poll` seconds pass."""
    while not stop.is_set():
        try:
            # autocommit: each batch is its own transaction (a read between batches must not keep one
            # open, or now() would stand still for the claim)
            with connect(settings.dsn, autocommit=True) as conn, connect(settings.dsn, autocommit=True) as listener:
                listener.execute("LISTEN district_outbox")
                while not stop.is_set():
                    with conn.transaction():
                        counts = run_batch(conn, adapter, settings)
                    if counts["retry"] or counts["dead"]:
                        log.warning("district outbox: %s", counts)
                    if counts["claimed"]:
                        continue
                    due = _next_due(conn)
                    wait = poll if due is None else min(poll, due)
                    _wait(listener, wait, stop)
        except Exception:  # keep the worker alive over a database restart
            log.exception("district delivery failed; retrying")
            stop.wait(2)


def _wait(listener, seconds: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if any(True for _ in listener.notifies(timeout=min(1.0, left), stop_after=1)):
            return


def start_background(settings, adapter) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(settings, adapter, stop), name="district-outbox", daemon=True).start()
    return stop


@contextlib.asynccontextmanager
async def lifespan(state):
    """The delivery worker beside the server, when a district URL is configured."""
    from civicgrid.exchange.adapters import from_settings

    adapter = from_settings(state.settings)
    if adapter is None:
        yield
        return
    stop = start_background(state.settings, adapter)
    try:
        yield
    finally:
        stop.set()


# ---------------------------------------------------------------- re-send and state

def resend(conn, *, ids: list[int] | None = None, case_id: int | None = None, actor: str) -> list[int]:
    """Dead letters (these ids, or all of a case) back to pending, due now; returns the ids re-sent."""
    rows = conn.execute(
        "UPDATE district_outbox SET state = 'pending', next_attempt_at = now(), attempts = 0, "
        "resent_by = %(actor)s, resent_at = now() "
        "WHERE state = 'dead' AND (id = ANY(%(ids)s) OR case_id = %(case)s) RETURNING id",
        {"ids": ids or [], "case": case_id, "actor": actor}).fetchall()
    if not rows:
        if ids and not conn.execute("SELECT 1 FROM district_outbox WHERE id = ANY(%s)", [ids]).fetchone():
            raise NotFound(f"outbox row {ids[0]} not found", field="id")
        raise Conflict("nothing to re-send: only dead letters can be re-sent", field="state")
    conn.execute("SELECT pg_notify('district_outbox', '')")
    return [r["id"] for r in rows]


def delivery_state(conn, case_id: int) -> dict:
    """A case's district delivery (推送状态), for the case detail: like FixMyStreet's send state."""
    row = conn.execute("""
        SELECT count(*) AS events, count(*) FILTER (WHERE state = 'delivered') AS delivered,
               count(*) FILTER (WHERE state IN ('pending', 'delivering')) AS pending,
               count(*) FILTER (WHERE state = 'dead') AS dead,
               coalesce(sum(attempts) FILTER (WHERE state <> 'delivered' OR attempts > 1), 0) AS failures,
               max(delivered_at) AS last_delivered_at,
               (array_agg(last_error ORDER BY id DESC) FILTER (WHERE state <> 'delivered' AND last_error IS NOT NULL))[1]
                   AS last_error,
               min(next_attempt_at) FILTER (WHERE state IN ('pending', 'delivering')) AS next_attempt_at
        FROM district_outbox WHERE case_id = %s""", [case_id]).fetchone()
    state = ("none" if not row["events"] else "dead" if row["dead"] else "pending" if row["pending"]
             else "delivered")
    out = {"state": state, **{k: row[k] for k in ("events", "delivered", "pending", "dead", "failures", "last_error")}}
    for k in ("last_delivered_at", "next_attempt_at"):
        out[k] = row[k].astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if row[k] else None
    return out
