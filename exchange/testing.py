"""A fake district platform on loopback for tests and the bench (no real district can be reached here).

It speaks both adapters' protocols — JSON POSTs to `/events` and Open311's `/requests.json` and
`/servicerequestupdates.json` — and records what it accepted, by idempotency key, in arrival order.
A key it already has is answered 409 (as a real receiver deduplicating would), so "exactly once"
is what it counts. Misbehaviour on demand: `fail_first` (500 for the next N requests), `timeout_keys`
(answer these keys only after `delay_s`), `fail_after_accept` (accept, then answer 500 as if the
reply were lost), `reject_keys` (400), `delay_s` for every request (a slow district).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from civicgrid.testing import LoopbackServer


class FakeDistrict(LoopbackServer):
    thread_name = "fake-district"

    def __init__(self, secret: str | None = None):
        self.secret = secret
        self.lock = threading.Lock()
        self.accepted: list[dict] = []        # {key, body, path} in the order accepted
        self.counts: Counter = Counter()      # key → times accepted (must stay 1)
        self.requests = 0
        self.fail_first = 0
        self.timeout_keys: set[str] = set()
        self.fail_after_accept: set[str] = set()
        self.reject_keys: set[str] = set()
        self.delay_s = 0.0
        self.bad_signatures = 0
        self.next_request_id = 1000
        self.arrived: dict[str, float] = {}   # key → time.perf_counter() when accepted (the bench's latency)
        self._listen()

    def keys(self) -> list[str]:
        with self.lock:
            return [a["key"] for a in self.accepted]

    def _decide(self, key: str, path: str, body) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500, {"error": "district busy"}
            if key in self.reject_keys:
                return 400, {"error": "field caseNo is not accepted"}
            if self.counts[key]:
                return 409, {"error": "duplicate", "key": key}
            self.counts[key] += 1
            answer = {"received": key}
            if path.endswith("/requests.json"):
                self.next_request_id += 1
                answer = [{"service_request_id": str(self.next_request_id)}]
            self.accepted.append({"key": key, "body": body, "path": path})
            self.arrived[key] = time.perf_counter()
            if key in self.fail_after_accept:
                self.fail_after_accept.discard(key)
                return 500, {"error": "reply lost"}
            return (201 if path.endswith("/requests.json") else 200), answer

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body in one segment: two small writes on a keep-alive connection meet the
            # client's delayed ACK (40 ms a request)
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                if self.path.endswith(".json") and "form" in (self.headers.get("Content-Type") or ""):
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    key = key or body.get("update_id", "")
                else:
                    body = json.loads(raw or b"{}")
                    if fake.secret:
                        stamp = self.headers.get("X-Civicgrid-Timestamp", "")
                        want = "sha256=" + hmac.new(fake.secret.encode(), stamp.encode() + b"." + raw,
                                                    hashlib.sha256).hexdigest()
                        if not hmac.compare_digest(want, self.headers.get("X-Civicgrid-Signature", "")):
                            with fake.lock:
                                fake.bad_signatures += 1
                            return self._send(401, {"error": "bad signature"})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if key in fake.timeout_keys:
                    fake.timeout_keys.discard(key)
                    time.sleep(1.0)
                    return self._send(504, {"error": "too late"})
                status, answer = fake._decide(key, self.path, body)
                self._send(status, answer)

            def _send(self, status, answer):
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
