"""What should be on the district's GeoServer, what is there, and the steps between the two.

`target(settings)` is what should be: the workspace, one PostGIS datastore, and per public collection
(the collections security/access.yml lets the anonymous public read, in layers/collections.py) a
feature type with its Chinese title, description and keywords and the declared CRS EPSG:4490, an SLD
style from the web map's palette (sld.py) as the layer's default style, and a layer group of them all.

`plan_publish(client, target)` reads GeoServer (GETs only) and returns the steps that would make it
match, each `unchanged`, `create`, `update` or `delete` with what differs; `apply(steps)` runs them in
order. A second publish therefore finds every step unchanged and sends nothing. `plan_unpublish` removes
the layer group and the workspace (with everything in it). `--dry-run` and `status` only plan.

The datastore's password cannot be compared (GeoServer keeps it encrypted): a datastore whose other
connection parameters match counts as unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from xml.sax.saxutils import escape

from civicgrid.errors import SetupError
from civicgrid.geoserver.client import Client
from civicgrid.geoserver.sld import entry, same_sld, style_for

SRS = "EPSG:4490"
# GeoServer reads the table itself, as its own database user: where the collection's table is not the
# public view, publish the view the public reads (cases: case_public — redacted like /ogc for the
# public, and with the sla_color the map colours cases by)
NATIVE = {"cases": "case_public"}
KIND_ORDER = {"polygon": 0, "line": 1, "point": 2}      # the group draws areas first, points on top
STORE_KEYS = ("host", "port", "database", "schema", "user", "dbtype")
ZH = {"nativeName": "数据表", "title": "标题", "abstract": "描述", "srs": "坐标系", "keywords": "关键词", "enabled": "启用",
      "layers": "图层", "host": "主机", "port": "端口", "database": "数据库", "schema": "模式", "user": "用户",
      "dbtype": "类型"}


def _differ_zh(diff: list[str]) -> str:
    return "不同：" + "、".join(ZH.get(d, d) for d in diff)


@dataclass(frozen=True)
class LayerSpec:
    name: str            # feature type and layer name: the collection id
    native: str          # table or view
    title: str
    abstract: str
    keywords: tuple[str, ...]
    sld: str


@dataclass(frozen=True)
class Target:
    workspace: str
    store: str
    connection: dict[str, str]      # STORE_KEYS, no password
    db_password: str
    layers: tuple[LayerSpec, ...]
    group: str
    group_title: str = "城市管理公开图层"
    group_abstract: str = "civicgrid 发布的公开图层（CGCS2000，EPSG:4490）"


@dataclass
class Step:
    kind: str                        # workspace, datastore, style, featuretype, layer, layergroup
    name: str
    action: str                      # unchanged, create, update, delete
    detail: str = ""
    run: Callable[[], None] | None = field(default=None, repr=False)
    zh: str | None = None            # the detail in Chinese for the web app (None: the detail is not words)

    def line(self) -> str:
        return f"  {self.action:<9} {self.kind:<11} {self.name}" + (f"  ({self.detail})" if self.detail else "")


def public_collections() -> list[str]:
    """The collections the anonymous public may read (security/access.yml), in the registry's order."""
    from civicgrid.layers.collections import COLLECTIONS
    from civicgrid.security import policy

    rules = policy.load()
    return [cid for cid in COLLECTIONS if "public" in rules.collections.get(cid, {}).get("read", frozenset())]


def _connection(db_url: str) -> tuple[dict[str, str], str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(db_url)
    except Exception:  # noqa: BLE001 — psycopg's message may quote the URL with its password
        raise SetupError("CIVICGRID_GEOSERVER_DB_URL: not a PostgreSQL connection URL") from None
    host = str(info.get("host") or "localhost")
    if host.startswith("/"):
        raise SetupError("CIVICGRID_GEOSERVER_DB_URL: GeoServer needs a host name, not a unix socket")
    return ({"host": host, "port": str(info.get("port") or 5432), "database": str(info.get("dbname") or ""),
             "schema": "public", "user": str(info.get("user") or ""), "dbtype": "postgis"},
            str(info.get("password") or ""))


def target(settings) -> Target:
    from civicgrid.layers.collections import COLLECTIONS

    db_url = settings.geoserver_db_url.get_secret_value() if settings.geoserver_db_url else settings.dsn
    connection, password = _connection(db_url)
    specs = []
    for cid in public_collections():
        c = COLLECTIONS[cid]
        specs.append(LayerSpec(cid, NATIVE.get(cid, c.table), c.title_zh, c.description_zh, tuple(c.keywords),
                               style_for(cid, cid, c.title_zh)))
    specs.sort(key=lambda s: KIND_ORDER.get(entry(s.name)["kind"], 0))     # stable: registry order within a kind
    ws = settings.geoserver_workspace
    return Target(ws, settings.geoserver_store, connection, password, tuple(specs), f"{ws}_map")


def client_from(settings, target_: Target | None = None) -> Client:
    if not settings.geoserver_url:
        raise SetupError("CIVICGRID_GEOSERVER_URL is not set: there is no GeoServer to publish to")
    if settings.geoserver_password is None:
        raise SetupError("CIVICGRID_GEOSERVER_PASSWORD is not set")
    secrets = (target_.db_password,) if target_ else ()
    return Client(settings.geoserver_url, settings.geoserver_user, settings.geoserver_password.get_secret_value(),
                  timeout=settings.geoserver_timeout, secrets=secrets)


# ---------------------------------------------------------------------- GeoServer's JSON, read tolerantly

def _list(value) -> list:
    """GeoServer's JSON turns a one-element list into the element and an empty one into ""."""
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def _store_params(doc: dict) -> dict[str, str]:
    entries = _list((doc.get("dataStore", {}).get("connectionParameters") or {}).get("entry"))
    return {e.get("@key"): str(e.get("$", "")) for e in entries if isinstance(e, dict)}


def _keywords(ft: dict) -> tuple[str, ...]:
    return tuple(str(k) for k in _list((ft.get("keywords") or {}).get("string")))


def _style_name(ref: dict | None, ws: str) -> str:
    """A style reference as `workspace:name` (GeoServer writes either form)."""
    if not ref:
        return ""
    name = str(ref.get("name", ""))
    if ":" not in name and ref.get("workspace"):
        name = f"{ref['workspace']}:{name}"
    return name


def _qualified(name: str, ws: str) -> str:
    return name if ":" in name else f"{ws}:{name}"


# ---------------------------------------------------------------------- the payloads

def featuretype_xml(spec: LayerSpec) -> str:
    keywords = "".join(f"<string>{escape(k)}</string>" for k in spec.keywords)
    return (f"<featureType><name>{escape(spec.name)}</name><nativeName>{escape(spec.native)}</nativeName>"
            f"<title>{escape(spec.title)}</title><abstract>{escape(spec.abstract)}</abstract>"
            f"<keywords>{keywords}</keywords><srs>{SRS}</srs><nativeCRS>{SRS}</nativeCRS>"
            f"<projectionPolicy>FORCE_DECLARED</projectionPolicy><enabled>true</enabled></featureType>")


def _featuretype_differs(ft: dict, spec: LayerSpec) -> list[str]:
    want = {"nativeName": spec.native, "title": spec.title, "abstract": spec.abstract, "srs": SRS}
    diff = [k for k, v in want.items() if str(ft.get(k) or "") != v]
    if _keywords(ft) != spec.keywords:
        diff.append("keywords")
    if str(ft.get("enabled", True)).lower() != "true":
        diff.append("enabled")
    return diff


# ---------------------------------------------------------------------- planning

def _ws_path(t: Target, *parts: str) -> str:
    return "/".join(("workspaces", t.workspace, *parts))


def plan_publish(cl: Client, t: Target) -> list[Step]:
    gs, ws = cl.gs, t.workspace
    steps: list[Step] = []
    have_ws = cl.call(f"reading workspace {ws}", gs.get_workspace, ws, missing_ok=True) is not None
    steps.append(Step("workspace", ws, "unchanged" if have_ws else "create",
                      run=None if have_ws else lambda: cl.call(f"creating workspace {ws}", gs.create_workspace, ws)))
    steps.append(_plan_store(cl, t, have_ws))
    have_store = have_ws and steps[-1].action != "create"
    present = set()
    if have_store:
        doc = cl.get_json(_ws_path(t, "datastores", t.store, "featuretypes.json"), "listing feature types") or {}
        present = {f.get("name") for f in _list((doc.get("featureTypes") or {}).get("featureType"))
                   if isinstance(f, dict)}
    for spec in t.layers:
        steps.extend(_plan_layer(cl, t, spec, have_ws, have_store))
    for name in sorted(present - {s.name for s in t.layers}):      # published before, not public any more
        steps.append(Step("featuretype", name, "delete", "not a public collection", zh="已不是公开图层",
                          run=lambda n=name: cl._raw("delete", _ws_path(t, "datastores", t.store, "featuretypes",
                                                                         f"{n}?recurse=true"), ok=(200,))))
    steps.append(_plan_group(cl, t))
    return steps


def _plan_store(cl: Client, t: Target, have_ws: bool) -> Step:
    gs, ws = cl.gs, t.workspace
    doc = cl.call(f"reading datastore {t.store}", gs.get_datastore, t.store, ws, missing_ok=True) if have_ws else None
    if doc is not None:
        params = _store_params(doc)
        diff = [k for k in STORE_KEYS if params.get(k, "") != t.connection[k]]
        if not diff:
            return Step("datastore", t.store, "unchanged", "PostGIS {user}@{host}:{port}/{database}".format(**t.connection))
    else:
        diff = []

    def write(overwrite=doc is not None):
        c = t.connection
        # geoserver-rest writes the values into its XML as they are: escape them here
        cl.call(f"{'updating' if overwrite else 'creating'} datastore {t.store}", gs.create_featurestore,
                t.store, workspace=ws, db=escape(c["database"]), host=escape(c["host"]), port=int(c["port"]),
                schema=escape(c["schema"]), pg_user=escape(c["user"]), pg_password=escape(t.db_password),
                overwrite=overwrite, description="civicgrid PostGIS", primary_key_metadata_table="")
    detail = f"{', '.join(diff)} differ" if diff else "PostGIS {user}@{host}:{port}/{database}".format(**t.connection)
    return Step("datastore", t.store, "update" if doc is not None else "create", detail, run=write,
                zh=_differ_zh(diff) if diff else None)


def _plan_layer(cl: Client, t: Target, spec: LayerSpec, have_ws: bool, have_store: bool) -> list[Step]:
    gs, ws = cl.gs, t.workspace
    steps = []
    # the style
    sld = cl.get_text(_ws_path(t, "styles", f"{spec.name}.sld"), "application/vnd.ogc.sld+xml") if have_ws else None
    if sld is None:
        steps.append(Step("style", f"{ws}:{spec.name}", "create", run=lambda: cl.call(
            f"uploading style {spec.name}", gs.upload_style, spec.sld, name=spec.name, workspace=ws)))
    elif not same_sld(sld, spec.sld):
        steps.append(Step("style", f"{ws}:{spec.name}", "update", "SLD differs", zh="SLD 与地图配色不同", run=lambda: cl.put(
            _ws_path(t, "styles", spec.name), spec.sld, "application/vnd.ogc.sld+xml")))
    else:
        steps.append(Step("style", f"{ws}:{spec.name}", "unchanged"))
    # the feature type (GeoServer makes its layer)
    path = _ws_path(t, "datastores", t.store, "featuretypes")
    ft = cl.get_json(f"{path}/{spec.name}.json", f"reading feature type {spec.name}") if have_store else None
    if ft is None:
        steps.append(Step("featuretype", spec.name, "create", f"{spec.native}, {spec.title}, {SRS}",
                          run=lambda: cl.post(path, featuretype_xml(spec))))
    else:
        diff = _featuretype_differs(ft.get("featureType", {}), spec)
        steps.append(Step("featuretype", spec.name, "update" if diff else "unchanged",
                          f"{', '.join(diff)} differ" if diff else "", zh=_differ_zh(diff) if diff else None,
                          run=(lambda: cl.put(f"{path}/{spec.name}", featuretype_xml(spec))) if diff else None))
    # the layer's default style
    layer = cl.call(f"reading layer {spec.name}", gs.get_layer, spec.name, ws, missing_ok=True) if ft else None
    want = f"{ws}:{spec.name}"
    have = _style_name((layer or {}).get("layer", {}).get("defaultStyle"), ws) if layer else ""
    if have == want:
        steps.append(Step("layer", want, "unchanged", f"style {want}", zh=f"样式 {want}"))
    else:      # GeoServer makes the layer with the feature type; we set its default style
        steps.append(Step("layer", want, "update" if layer else "create",
                          f"default style {have} → {want}" if layer else f"default style {want}",
                          zh=f"默认样式 {have} → {want}" if layer else f"默认样式 {want}", run=lambda: cl.call(
                              f"setting the style of {spec.name}", gs.publish_style, layer_name=spec.name,
                              style_name=want, workspace=ws)))
    return steps


def _plan_group(cl: Client, t: Target) -> Step:
    gs = cl.gs
    want = [f"{t.workspace}:{s.name}" for s in t.layers]
    doc = cl.call(f"reading layer group {t.group}", gs.get_layergroup, t.group, missing_ok=True)

    def create():
        cl.call(f"creating layer group {t.group}", gs.create_layergroup, name=t.group, mode="single",
                title=escape(t.group_title), abstract_text=escape(t.group_abstract), layers=want, workspace=None)

    if doc is None:
        return Step("layergroup", t.group, "create", f"{len(want)} layers", zh=f"{len(want)} 个图层", run=create)
    lg = doc.get("layerGroup", {})
    have = [_qualified(str(p.get("name", "")), t.workspace)
            for p in _list((lg.get("publishables") or {}).get("published")) if isinstance(p, dict)]
    diff = [k for k, ok in (("layers", have == want), ("title", lg.get("title") == t.group_title),
                            ("abstract", lg.get("abstractTxt") == t.group_abstract)) if not ok]
    if not diff:
        return Step("layergroup", t.group, "unchanged", f"{len(want)} layers", zh=f"{len(want)} 个图层")

    def replace():     # geoserver-rest cannot change a group's layers in one call: build it again
        cl.call(f"replacing layer group {t.group}", gs.delete_layergroup, t.group)
        create()
    return Step("layergroup", t.group, "update", f"{', '.join(diff)} differ", zh=_differ_zh(diff), run=replace)


def plan_unpublish(cl: Client, t: Target) -> list[Step]:
    gs = cl.gs
    steps = []
    if cl.call(f"reading layer group {t.group}", gs.get_layergroup, t.group, missing_ok=True) is not None:
        steps.append(Step("layergroup", t.group, "delete", run=lambda: cl.call(
            f"deleting layer group {t.group}", gs.delete_layergroup, t.group)))
    if cl.call(f"reading workspace {t.workspace}", gs.get_workspace, t.workspace, missing_ok=True) is not None:
        steps.append(Step("workspace", t.workspace, "delete", "with its datastore, feature types, layers and styles",
                          zh="连同其数据存储、要素类型、图层和样式",
                          run=lambda: cl.call(f"deleting workspace {t.workspace}", gs.delete_workspace, t.workspace)))
    return steps


def apply(steps: list[Step], echo: Callable[[str], None]) -> None:
    for step in steps:
        if step.run is not None:
            step.run()
            echo(step.line())


def version(cl: Client) -> str:
    doc = cl.call("reading the version", cl.gs.get_version)
    for res in _list((doc.get("about") or {}).get("resource")):
        if isinstance(res, dict) and res.get("@name") == "GeoServer":
            return str(res.get("Version", "?"))
    return "?"
