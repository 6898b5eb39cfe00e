"""HTTP Basic with a user name and password (desktop QGIS 3.22: its auth methods are Basic, EsriToken,
PKI — no Bearer), through the same access layer as everything else.

- The check is the web login's (sessions.basic_principal → identity.verify_password): argon2, five
  failures in a row lock the account for 15 minutes, every attempt audited (`login.success` /
  `login.failure` with `via: basic`). The principal reads only (see sessions.basic_principal).
- Password checks are rate-limited per client address like the login route (BASIC_RATE: 30 a
  minute); beyond, 429 with Retry-After and no check at all.
- A desktop client sends the credentials with every request (a project's tiles are hundreds): a
  verified pair is remembered for CACHE_SECONDS in the app state (keyed by the user name and a
  keyed hash of the password, never the password), so argon2 and the audit row happen once a
  minute per user, not per tile. A changed password or a disabled user takes effect within that.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from civicgrid.errors import TooManyRequests, Unauthorized
from civicgrid.security import sessions
from civicgrid.security.principal import Principal
from civicgrid.state import app_state

BASIC_RATE = (30, 60)          # password checks per client address and window (seconds)
CACHE_SECONDS = 60.0
CACHE_MAX = 1000


@dataclass
class BasicCache:
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    entries: dict[tuple[str, bytes], tuple[Principal, float]] = field(default_factory=dict)

    def key(self, username: str, password: str) -> tuple[str, bytes]:
        return username, hmac.new(self.salt, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def get(self, key) -> Principal | None:
        hit = self.entries.get(key)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        self.entries.pop(key, None)
        return None

    def put(self, key, principal: Principal) -> None:
        if len(self.entries) >= CACHE_MAX:
            now = time.monotonic()
            self.entries = {k: v for k, v in self.entries.items() if v[1] > now}
            if len(self.entries) >= CACHE_MAX:
                self.entries.clear()
        self.entries[key] = (principal, time.monotonic() + CACHE_SECONDS)


def _challenge(message: str) -> Unauthorized:
    return Unauthorized(message, field="Authorization", headers={"WWW-Authenticate": 'Basic realm="civicgrid"'})


async def password_principal(scope, username: str, password: str, addr: str | None) -> Principal:
    state = app_state(scope)
    cache: BasicCache = state.extra.setdefault("basic_auth_cache", BasicCache())
    key = cache.key(username, password)
    principal = cache.get(key)
    if principal is not None:
        return principal
    allowed, window = BASIC_RATE
    async with state.async_pool.connection() as conn:
        cur = await conn.execute("SELECT rate_hit(%s, %s)", [f"auth.basic:{addr}", window])
        hits = (await cur.fetchone())[0]
    if hits > allowed:
        raise TooManyRequests(f"more than {allowed} password checks per {window} s from this address; "
                              "try again later", field="Authorization", headers={"Retry-After": str(window)})

    def check():
        with state.pool.connection() as conn:   # commits the failure counter and the audit row
            return sessions.basic_principal(conn, username, password, addr)

    principal = await asyncio.to_thread(check)
    if principal is None:
        raise _challenge("wrong user name or password, or the account is locked or disabled")
    cache.put(key, principal)
    return principal
