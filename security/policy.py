"""The access rules (security/access.yml) loaded, validated and asked: may this principal use this
method on this route (and collection, and process)?

The rules are data; this module only knows how to read them. Validation happens at start-up with
errors that name the place (`routes[3].POST: unknown role or group 'gis_editr'`), so a typo cannot
silently open or close a route.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from civicgrid.errors import SetupError
from civicgrid.security.principal import Principal

RULES_PATH = Path(__file__).with_name("access.yml")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SPECIAL = ("collection.read", "collection.write", "process.run")
DEFAULT_BODY_LIMIT = 1 << 20  # 1 MB
_SIZE = re.compile(r"^(\d+)\s*(KB|MB|GB)?$", re.I)
_RATE = re.compile(r"^(\d+)/(second|minute|hour|day)$")
_PER = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Permission:
    roles: frozenset[str] = frozenset()
    special: str | None = None          # one of SPECIAL: resolved against the path's parameters


@dataclass(frozen=True)
class RouteRule:
    methods: dict[str, Permission]
    body_limit: int = DEFAULT_BODY_LIMIT
    anonymous_rate: tuple[int, int] | None = None   # (requests, window seconds)
    csrf: bool = True                                # cookie-authenticated writes need the token
    audit: bool = True                               # the access layer writes a row for each write


@dataclass(frozen=True)
class Need:
    """What a tool or an action of the web app needs (every part given must allow it): roles, the
    rule of a route and method, the right to run a process, to read or write a collection."""
    roles: frozenset[str] | None = None
    route: tuple[str, str] | None = None            # (method, path template)
    process: str | None = None
    collection: tuple[str, str] | None = None       # (collection id, 'read' | 'write')


@dataclass
class Policy:
    routes: dict[str, RouteRule] = field(default_factory=dict)        # path template → rule
    collections: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)  # id → {read, write}
    processes: dict[str, frozenset[str]] = field(default_factory=dict)
    tools: dict[str, Need] = field(default_factory=dict)             # map tool id → what it needs
    actions: dict[str, Need] = field(default_factory=dict)           # action name → what it needs

    def permission(self, template: str, method: str) -> Permission | None:
        rule = self.routes.get(template)
        if rule is None:
            return None
        return rule.methods.get("GET" if method == "HEAD" else method)

    def roles_for(self, perm: Permission, params: dict) -> frozenset[str] | None:
        """The roles a permission grants for these path parameters; None: the collection or process
        is not ours to protect (unknown to the server too: it answers 404)."""
        if perm.special is None:
            return perm.roles
        if perm.special == "process.run":
            return self.processes.get(params.get("process_id", ""))
        coll = self.collections.get(params.get("collection_id", ""))
        return None if coll is None else coll[perm.special.split(".")[1]]

    def allows(self, principal: Principal, roles: frozenset[str], method: str) -> bool:
        if principal.is_system:
            return True
        if principal.via in ("key", "basic"):     # basic: HTTP Basic with a password reads only
            scopes = principal.scopes
            if "write" not in scopes and not (method in SAFE_METHODS and "read" in scopes):
                return False
        return bool(principal.roles & roles)

    @staticmethod
    def key_reaches(principal: Principal, collection_id: str | None) -> bool:
        """An API key limited to some collections (`api_key.collections`) reaches only those."""
        return principal.collections is None or collection_id in principal.collections

    def can_read_collection(self, principal: Principal, collection_id: str) -> bool:
        coll = self.collections.get(collection_id)
        return coll is not None and self.key_reaches(principal, collection_id) and \
            self.allows(principal, coll["read"], "GET")

    def can_run_process(self, principal: Principal, process_id: str) -> bool:
        roles = self.processes.get(process_id)
        return roles is not None and self.allows(principal, roles, "POST")

    def can_write_collection(self, principal: Principal, collection_id: str) -> bool:
        coll = self.collections.get(collection_id)
        return coll is not None and self.key_reaches(principal, collection_id) and \
            self.allows(principal, coll["write"], "POST")

    def can_use_route(self, principal: Principal, method: str, template: str, params: dict | None = None) -> bool:
        perm = self.permission(template, method)
        if perm is None:
            return False
        roles = self.roles_for(perm, params or {})
        if perm.special and perm.special.startswith("collection.") and \
                not self.key_reaches(principal, (params or {}).get("collection_id")):
            return False
        return roles is not None and self.allows(principal, roles, method)

    def grants(self, principal: Principal, need: Need) -> bool:
        if need.roles is not None and not self.allows(principal, need.roles, "GET"):
            return False
        if need.route is not None and not self.can_use_route(principal, *need.route):
            return False
        if need.process is not None and not self.can_run_process(principal, need.process):
            return False
        if need.collection is not None:
            cid, how = need.collection
            if not (self.can_read_collection if how == "read" else self.can_write_collection)(principal, cid):
                return False
        return True

    def tools_for(self, principal: Principal) -> list[str]:
        """The map tools the caller may use, in the order of the rules file."""
        return [tool for tool, need in self.tools.items() if self.grants(principal, need)]

    def actions_for(self, principal: Principal) -> list[str]:
        return [name for name, need in self.actions.items() if self.grants(principal, need)]


def _size(value, where: str) -> int:
    m = _SIZE.match(str(value).strip())
    if not m:
        raise SetupError(f"{where}: size {value!r} must look like 512KB, 10MB or 1GB")
    return int(m.group(1)) * {None: 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[(m.group(2) or "").upper() or None]


def parse(doc: dict, known_roles: set[str] | None = None) -> Policy:  # noqa: C901 — one branch per kind of rule, each naming its place on error
    """Validate the rules document; SetupError naming the place for anything wrong."""
    if not isinstance(doc, dict):
        raise SetupError("access rules: the document must be a mapping")
    unknown = set(doc) - {"groups", "collections", "processes", "routes", "tools", "actions"}
    if unknown:
        raise SetupError(f"access rules: unknown key(s) {', '.join(sorted(unknown))}")
    groups_raw = doc.get("groups") or {}
    roles = set(known_roles or ())
    groups: dict[str, frozenset[str]] = {}

    def resolve(value, where: str, allow_special: bool = False) -> Permission:
        if allow_special and value in SPECIAL:
            return Permission(special=value)
        items = value if isinstance(value, list) else [value]
        out: set[str] = set()
        for item in items:
            if not isinstance(item, str):
                raise SetupError(f"{where}: {item!r} is not a role or group name")
            if item == "nobody":
                continue
            if item in groups:
                out |= groups[item]
            elif item in groups_raw and item not in groups:
                raise SetupError(f"{where}: group {item!r} is used before it is defined")
            elif not roles or item in roles:
                out.add(item)
            else:
                raise SetupError(f"{where}: unknown role or group {item!r}")
        return Permission(roles=frozenset(out))

    for name, members in groups_raw.items():
        groups[name] = resolve(members, f"groups.{name}").roles
    policy = Policy()
    for cid, spec in (doc.get("collections") or {}).items():
        if not isinstance(spec, dict) or set(spec) != {"read", "write"}:
            raise SetupError(f"collections.{cid}: give exactly `read` and `write`")
        policy.collections[cid] = {k: resolve(v, f"collections.{cid}.{k}").roles for k, v in spec.items()}
    for pid, spec in (doc.get("processes") or {}).items():
        policy.processes[pid] = resolve(spec, f"processes.{pid}").roles
    for i, entry in enumerate(doc.get("routes") or []):
        where = f"routes[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("paths"), list) or not entry["paths"]:
            raise SetupError(f"{where}: give `paths` (a list of path templates)")
        bad = set(entry) - {"paths", "limits", "csrf", "audit", *METHODS}
        if bad:
            raise SetupError(f"{where}: unknown key(s) {', '.join(sorted(bad))}")
        methods = {m: resolve(entry[m], f"{where}.{m}", allow_special=True) for m in METHODS if m in entry}
        limits = entry.get("limits") or {}
        bad = set(limits) - {"body", "anonymous_rate"}
        if bad:
            raise SetupError(f"{where}.limits: unknown key(s) {', '.join(sorted(bad))}")
        rate = None
        if "anonymous_rate" in limits:
            m = _RATE.match(str(limits["anonymous_rate"]))
            if not m:
                raise SetupError(f"{where}.limits.anonymous_rate: write it as N/second|minute|hour|day")
            rate = (int(m.group(1)), _PER[m.group(2)])
        rule = RouteRule(methods=methods, anonymous_rate=rate, csrf=bool(entry.get("csrf", True)),
                         audit=bool(entry.get("audit", True)),
                         body_limit=_size(limits["body"], f"{where}.limits.body") if "body" in limits else DEFAULT_BODY_LIMIT)
        for path in entry["paths"]:
            if not isinstance(path, str) or not path.startswith("/"):
                raise SetupError(f"{where}.paths: {path!r} is not a path template")
            if path in policy.routes:
                raise SetupError(f"{where}.paths: {path} already has a rule")
            policy.routes[path] = rule
    for section in ("tools", "actions"):
        for name, spec in (doc.get(section) or {}).items():
            getattr(policy, section)[name] = _need(policy, spec, f"{section}.{name}", resolve)
    return policy


def _need(policy: Policy, spec, where: str, resolve) -> Need:
    """`everyone` | [roles…] | {roles?, route: "METHOD /template", process: id, collection: id | "id write"}."""
    if not isinstance(spec, dict):
        return Need(roles=resolve(spec, where).roles)
    bad = set(spec) - {"roles", "route", "process", "collection"}
    if bad or not spec:
        raise SetupError(f"{where}: give roles, route, process and/or collection (not {', '.join(sorted(bad)) or 'nothing'})")
    route = process = collection = None
    if "route" in spec:
        method, _, template = str(spec["route"]).partition(" ")
        if policy.permission(template.strip(), method) is None:
            raise SetupError(f"{where}.route: {spec['route']!r} names no rule of `routes` (write it as 'GET /api/x')")
        route = (method, template.strip())
    if "process" in spec:
        if spec["process"] not in policy.processes:
            raise SetupError(f"{where}.process: {spec['process']!r} is not under `processes`")
        process = spec["process"]
    if "collection" in spec:
        cid, _, how = str(spec["collection"]).partition(" ")
        if cid not in policy.collections or how not in ("", "read", "write"):
            raise SetupError(f"{where}.collection: {spec['collection']!r} is not a collection under `collections` "
                             "(optionally followed by read or write)")
        collection = (cid, how or "read")
    roles = resolve(spec["roles"], f"{where}.roles").roles if "roles" in spec else None
    return Need(roles=roles, route=route, process=process, collection=collection)


# the role codes app_role (0600_security.sql) seeds, for start-up checks without a database
# (tests/test_security_matrix.py compares the two)
ROLE_CODES = frozenset({"public", "admin", "intake_operator", "shift_leader", "dispatcher", "leader",
                        "department_handler", "grid_officer", "gis_editor", "evaluator", "district_platform",
                        "ops_staff"})


@lru_cache(maxsize=1)
def load(path: str | None = None) -> Policy:
    """The rules, read once per process. Role codes are checked against those seeded by
    0600_security.sql (app_role), kept here so start-up needs no database."""
    file = Path(path) if path else RULES_PATH
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SetupError(f"cannot read the access rules {file}: {exc}") from exc
    return parse(doc, set(ROLE_CODES))
