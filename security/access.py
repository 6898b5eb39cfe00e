"""The one access layer in front of everything (访问控制): an ASGI middleware around the whole app,
the mounted pygeoapi included.

For each request: find the route that will answer it (the app's own route table, in the router's
order), authenticate (API key in `Authorization: Bearer`, else the session cookie, else anonymous),
look the route and method up in security/access.yml (deny by default: 401 for anonymous callers,
403 for others), check the CSRF token of cookie-authenticated writes, the body size and the
anonymous rate limit, then run the app with the principal set (security.principal) and audit every
write. Listings (`/ogc/collections`, `/ogc/openapi`) are trimmed to what the caller may read.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie

import psycopg
from psycopg.rows import dict_row
from starlette.routing import Mount, Route, compile_path

from civicgrid.db.errors import translate
from civicgrid.errors import CivicgridError, Forbidden, PayloadTooLarge, SetupError, TooManyRequests, Unauthorized
from civicgrid.http import error_response
from civicgrid.security import basic, identity, sessions
from civicgrid.security import policy as policy_mod
from civicgrid.security.principal import ANONYMOUS, Principal, install_context_executor, reset_principal, set_principal
from civicgrid.state import app_state

log = logging.getLogger("civicgrid.security")

READ_ONLY = policy_mod.SAFE_METHODS


@dataclass(frozen=True)
class RouteEntry:
    template: str
    regex: re.Pattern
    methods: frozenset[str] | None    # None: a mounted app (static files) answering any method


def route_table(routes, prefix: str = "") -> list[RouteEntry]:
    """The app's routes flattened, in the router's order, with their full path templates."""
    out: list[RouteEntry] = []
    for r in routes:
        if isinstance(r, Mount):
            if r.routes:
                out.extend(route_table(r.routes, prefix + r.path))
            else:
                template = prefix + r.path + "/{path:path}"
                out.append(RouteEntry(template, compile_path(template)[0], None))
        elif isinstance(r, Route):
            template = prefix + r.path
            out.append(RouteEntry(template, compile_path(template)[0], frozenset(r.methods) if r.methods else None))
    return out


def match(table: list[RouteEntry], path: str, method: str) -> tuple[RouteEntry, dict] | None:
    """The route Starlette will run for this path and method (first full match), or None when the
    app will answer 404/405 by itself."""
    for entry in table:
        m = entry.regex.match(path)
        if m and (entry.methods is None or method in entry.methods):
            params = m.groupdict()
            return entry, params
    return None


def _unauthorized(message: str, invalid_token: bool = False) -> Unauthorized:
    challenge = 'Bearer realm="civicgrid"' + (', error="invalid_token"' if invalid_token else "")
    return Unauthorized(message, field="Authorization", headers={"WWW-Authenticate": challenge})


def client_addr(scope) -> str | None:
    """The peer's IP address (None when the server was not reached over IP, e.g. in-process tests)."""
    client = scope.get("client")
    try:
        return str(ipaddress.ip_address(client[0])) if client else None
    except ValueError:
        return None


class AccessMiddleware:
    def __init__(self, app):
        self.app = app
        self.policy = policy_mod.load()
        self._table: list[RouteEntry] | None = None
        self._loop = None

    def table(self, scope) -> list[RouteEntry]:
        if self._table is None:
            router = scope.get("router") or getattr(scope.get("app"), "router", None)
            self._table = route_table(router.routes)
        return self._table

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._loop is None:  # pygeoapi's handler threads must see the principal too
            self._loop = asyncio.get_running_loop()
            install_context_executor(self._loop)
        pool = app_state(scope).async_pool
        try:
            try:
                principal, rule, entry = await self._decide(scope, pool)
            except psycopg.Error as exc:   # the database failed while authenticating: 503, not a reset
                raise translate(exc) from exc
        except CivicgridError as exc:
            await error_response(exc)(scope, receive, send)
            # a signed-in caller's refused write is worth knowing about; anonymous refusals are not
            # logged (anybody could fill the table with them; bad tokens are, as auth.failure)
            who = scope.get("state", {}).get("principal", ANONYMOUS)
            if scope["method"] not in READ_ONLY and not who.is_anonymous:
                await _audit_write(pool, who, scope["method"], "(refused)", scope["path"], exc.status,
                                   client_addr(scope))
            return
        token = set_principal(principal)
        scope.setdefault("state", {})["principal"] = principal
        method = scope["method"]
        status = {"code": None}
        limit = rule.body_limit if rule else policy_mod.DEFAULT_BODY_LIMIT
        receive = _limited(receive, limit)
        filtering = method in ("GET", "HEAD") and scope["path"] in _LISTINGS

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if filtering:
                await _filtered(self.app, scope, receive, send_wrapper, principal, self.policy)
            else:
                await self.app(scope, receive, send_wrapper)
        except PayloadTooLarge as exc:  # raised by _limited while the app read a chunked body
            if status["code"] is None:
                await error_response(exc)(scope, receive, send)
                status["code"] = exc.status
        finally:
            reset_principal(token)
            if (method not in READ_ONLY and entry is not None and not scope["state"].get("query_by_post")
                    and (rule is None or rule.audit)):
                await _audit_write(pool, principal, method, entry.template, scope["path"], status["code"],
                                   client_addr(scope))

    async def _decide(self, scope, pool) -> tuple[Principal, policy_mod.RouteRule | None, RouteEntry | None]:
        method = scope["method"]
        found = match(self.table(scope), scope["path"], method)
        principal = await _authenticate(scope, pool)
        scope.setdefault("state", {})["principal"] = principal
        if found is None:
            return principal, None, None       # the app answers 404/405; no handler runs
        entry, params = found
        if _is_query(scope, entry.template):
            method = "GET"                     # a CQL2 JSON query by POST reads, like the same filter by GET
            scope.setdefault("state", {})["query_by_post"] = True
        rule = self.policy.routes.get(entry.template)
        perm = self.policy.permission(entry.template, method)
        if perm is None:
            raise Forbidden(f"no access rule allows {method} {entry.template} (deny by default)", field="route")
        roles = self.policy.roles_for(perm, params)
        if roles is not None and not self.policy.allows(principal, roles, method):
            what = perm.special and (params.get("collection_id") or params.get("process_id"))
            target = f"{method} {scope['path']}" + (f" ({perm.special} of {what})" if what else "")
            if principal.is_anonymous:
                raise _unauthorized(f"{target} needs a login or an API key")
            why = ("the API key's scopes do not allow it" if principal.via == "key" and principal.roles & roles
                   else "HTTP Basic with a password only reads (write with an API key)" if principal.via == "basic"
                   and principal.roles & roles else f"the caller's roles ({principal.role_label}) do not allow it")
            raise Forbidden(f"{target}: {why}", field="role")
        if roles is not None and perm.special and perm.special.startswith("collection.") and \
                not self.policy.key_reaches(principal, params.get("collection_id")):
            raise Forbidden(f"{method} {scope['path']}: the API key is limited to the collections "
                            f"{', '.join(sorted(principal.collections))}", field="collections")
        if principal.via == "session" and method not in READ_ONLY and rule.csrf:
            sent = _header(scope, sessions.CSRF_HEADER)
            if not sent or not hmac.compare_digest(sent, principal.csrf_token or ""):
                raise Forbidden("cookie-authenticated writes need the session's X-CSRF-Token header",
                                field="X-CSRF-Token")
        length = _header(scope, "content-length")
        if length and length.isdigit() and int(length) > rule.body_limit:
            raise PayloadTooLarge(f"request body of {length} bytes is over the limit of {rule.body_limit} bytes "
                                  f"for {entry.template}", field="body")
        if principal.is_anonymous and rule.anonymous_rate and method not in READ_ONLY:
            allowed, window = rule.anonymous_rate
            hits = (await _fetch(pool, "SELECT rate_hit(%s, %s) AS hits",
                                 [f"{entry.template}:{client_addr(scope)}", window]))["hits"]
            if hits > allowed:
                raise TooManyRequests(f"more than {allowed} requests per {window} s from this address without "
                                      "a login; try again later", field="client", headers={"Retry-After": str(window)})
        return principal, rule, entry


# the media type of a CQL2 JSON query (OGC API Features Part 3); a plain application/json POST keeps
# the collection's write rule
QUERY_TYPES = ("application/query-cql-json",)


def _is_query(scope, template: str) -> bool:
    """POST of a CQL2 JSON filter to a collection's items (layers/ogc.py `items`)."""
    if scope["method"] != "POST" or not template.endswith("/items"):
        return False
    ctype = (_header(scope, "content-type") or "").split(";")[0].strip().lower()
    return ctype in QUERY_TYPES


def check_coverage(policy: policy_mod.Policy | None = None, resources: dict | None = None) -> None:
    """Every collection and process the server publishes (`resources` of the pygeoapi configuration,
    read from the file when not given) must have a rule: checked at start-up, so a server with an
    uncovered collection refuses to start (fail closed)."""
    if resources is None:
        from civicgrid.layers.ogc import load_config  # layers is optional to security

        resources = load_config().get("resources", {})
    policy = policy or policy_mod.load()
    for rid, res in resources.items():
        kind = res.get("type")
        if kind == "collection" and rid not in policy.collections:
            raise SetupError(f"access rules: collection {rid!r} has no entry under `collections` in security/access.yml")
        if kind == "process" and rid not in policy.processes:
            raise SetupError(f"access rules: process {rid!r} has no entry under `processes` in security/access.yml")


def _header(scope, name: str) -> str | None:
    raw = name.encode()
    for k, v in scope.get("headers", ()):
        if k == raw:
            return v.decode("latin-1")
    return None


async def _fetch(pool, sql: str, args: list) -> dict | None:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql, args)
        return await cur.fetchone()


async def _authenticate(scope, pool) -> Principal:
    """One SQL round trip on the async pool for a key or a session; none for anonymous callers."""
    auth = _header(scope, "authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "basic":
            # desktop GIS (QGIS 3.22 offers Basic, not Bearer): an API key as the password (any user
            # name), else the user's own name and password, checked like a web login (basic.py)
            username, password = _basic_credentials(token)
            if not identity.KEY_RE.match(password.strip()):
                return await basic.password_principal(scope, username, password, client_addr(scope))
            scheme, token = "bearer", password
        args = identity.key_args(token) if scheme.lower() == "bearer" else None
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <API key>' (or Basic with the API key as password)")
        row = await _fetch(pool, identity.KEY_SQL, args) if args else None
        if row is None:
            await _audit_failure(pool, token, client_addr(scope))
            raise _unauthorized("the API key is unknown, expired or revoked", invalid_token=True)
        principal = sessions.key_principal(row, args[0])
        if row["audit_due"]:
            await _audit(pool, principal.user, principal.role_label, "key.use", f"key:{principal.key}", client_addr(scope))
        return principal
    cookie = _header(scope, "cookie")
    if cookie:
        jar = SimpleCookie()
        try:
            jar.load(cookie)
        except Exception:
            jar = SimpleCookie()
        morsel = jar.get(sessions.COOKIE)
        args = sessions.session_args(morsel.value) if morsel is not None else None
        if args:
            principal = sessions.session_principal(await _fetch(pool, sessions.SESSION_SQL, args))
            if principal is not None:
                return principal
            # an expired session is simply anonymous (the page offers to log in again)
    return ANONYMOUS


def _basic_credentials(token: str) -> tuple[str, str]:
    try:
        username, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise _unauthorized("Basic credentials must be base64 of 'user:password' or 'user:API key'") from None
    return username, password


async def _audit(pool, *args, **kwargs) -> None:
    """One audit row on the async pool (autocommit: it stands even if the request's work failed)."""
    async with pool.connection() as conn:
        await conn.execute(identity.AUDIT_SQL, identity.audit_args(*args, **kwargs))


FAILURE_AUDIT_PER_HOUR = 100   # bad tokens audited per client address and hour; beyond, only counted


async def _audit_failure(pool, token: str, addr: str | None) -> None:
    hits = (await _fetch(pool, "SELECT rate_hit(%s, 3600) AS hits", [f"auth.failure:{addr}"]))["hits"]
    if hits > FAILURE_AUDIT_PER_HOUR:  # a flood of bad tokens must not fill the audit log
        if hits == FAILURE_AUDIT_PER_HOUR + 1:
            log.warning("more than %d bad API keys from %s this hour; no longer auditing each", FAILURE_AUDIT_PER_HOUR, addr)
        return
    m = identity.KEY_RE.match(token.strip())
    await _audit(pool, "anonymous", "public", "auth.failure", f"key:{m.group(1)}" if m else None, addr,
                 {"kind": "key", "reason": "unknown, forged, expired or revoked key" if m else "malformed token"})


async def _audit_write(pool, principal: Principal, method: str, template: str, path: str, status: int | None,
                       addr: str | None) -> None:
    try:
        await _audit(pool, principal.user, principal.role_label, f"{method} {template}", path[:500], addr,
                     {"status": status, "via": principal.via, **({"key": principal.key} if principal.key else {})})
    except Exception:  # the answer has gone out; a lost audit row must be loud but not a 500
        log.exception("could not write the audit row for %s %s by %s", method, path, principal.user)


def _limited(receive, limit: int):
    """Count body bytes as they arrive (chunked bodies have no Content-Length to check up front)."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"request body over {limit} bytes", field="body")
        return message

    return wrapped


# ---------------------------------------------------------------- listings trimmed to the caller

_LISTINGS = {"/ogc/collections", "/ogc/collections/", "/ogc/openapi", "/ogc/processes"}
_HTML_ROW = re.compile(r"<tr>\s*<td data-label=\"name\">\s*<a[^>]*href=\"[^\"]*/collections/([^\"/]+)\".*?</tr>", re.S)


async def _filtered(app, scope, receive, send, principal: Principal, policy: policy_mod.Policy) -> None:
    start: dict = {}
    chunks: list[bytes] = []

    async def capture(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
    ctype = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"").decode("latin-1")
    if start.get("status") == 200 and body:
        body = _trim(scope["path"], ctype, body, principal, policy)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


def _trim(path: str, ctype: str, body: bytes, principal: Principal, policy: policy_mod.Policy) -> bytes:
    readable = lambda cid: policy.can_read_collection(principal, cid)  # noqa: E731
    runnable = lambda pid: policy.can_run_process(principal, pid)  # noqa: E731
    if "html" in ctype:
        if path.rstrip("/") == "/ogc/collections":
            text = body.decode("utf-8")
            text = _HTML_ROW.sub(lambda m: m.group(0) if readable(m.group(1)) else "", text)
            return text.encode("utf-8")
        return body
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if path.rstrip("/") == "/ogc/collections" and isinstance(doc.get("collections"), list):
        doc["collections"] = [c for c in doc["collections"] if readable(c.get("id", ""))]
    elif path == "/ogc/processes" and isinstance(doc.get("processes"), list):
        doc["processes"] = [p for p in doc["processes"] if runnable(p.get("id", ""))]
    elif path == "/ogc/openapi" and isinstance(doc.get("paths"), dict):
        def keep(p: str) -> bool:
            parts = p.split("/")
            if len(parts) > 2 and parts[1] == "collections":
                return readable(parts[2])
            if len(parts) > 2 and parts[1] == "processes":
                return runnable(parts[2])
            if parts[1:2] in (["processes"], ["jobs"]):
                return principal.has_any(policy.routes["/ogc/processes"].methods["GET"].roles)
            return True
        doc["paths"] = {p: v for p, v in doc["paths"].items() if keep(p)}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
