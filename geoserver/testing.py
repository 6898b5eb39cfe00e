"""A fake GeoServer REST API on loopback for tests (no GeoServer runs on these machines).

It answers exactly the requests `civicgrid geoserver` sends through geoserver-rest 2.10 — the paths,
methods and XML/JSON payloads of GeoServer's REST API documentation (workspaces, PostGIS datastores,
feature types, styles with their SLD body, layers' default style, global layer groups, about/version)
— keeps the catalog in memory and logs every request (method, path, query, content type, body).
GeoServer's JSON habits are kept: a list of one becomes the element, an empty list "", a datastore's
password comes back encrypted. HTTP Basic is checked (401 otherwise); `fail_status` answers every
request with that status (a broken GeoServer), `fail_writes` only the writes.

What it cannot tell: whether a real GeoServer accepts the SLD and renders it, reaches the database,
or computes the bounding boxes — see geoserver/README.md.
"""
from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from civicgrid.testing import LoopbackServer

SLD_TYPES = ("application/vnd.ogc.sld+xml", "application/vnd.ogc.se+xml")


def _one(items: list):
    """GeoServer's JSON: [] → "", [x] → x."""
    return "" if not items else items[0] if len(items) == 1 else items


class Reply(Exception):
    def __init__(self, status: int, body="", content_type="text/plain"):
        self.status, self.body, self.content_type = status, body, content_type


class FakeGeoServer(LoopbackServer):
    path = "/geoserver"
    thread_name = "fake-geoserver"

    def __init__(self, user: str = "admin", password: str = "geoserver", tables: set[str] | None = None):
        self.user, self.password = user, password
        self.tables = tables                        # native tables the "database" has (None: any)
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.fail_status: int | None = None
        self.fail_writes: int | None = None
        self.workspaces: dict[str, dict] = {}       # name → {stores: {name: {...}}, styles: {name: {...}}}
        self.layers: dict[str, dict] = {}           # "ws:name" → {style: "ws:style"}
        self.layergroups: dict[str, dict] = {}
        self._listen()

    def writes(self) -> list[dict]:
        return [r for r in self.log if r["method"] != "GET"]

    # ------------------------------------------------------------------ the catalog

    def _ws(self, name: str) -> dict:
        if name not in self.workspaces:
            raise Reply(404, f"No such workspace: '{name}'")
        return self.workspaces[name]

    def _store(self, ws: str, name: str) -> dict:
        stores = self._ws(ws)["stores"]
        if name not in stores:
            raise Reply(404, f"No such datastore: {ws},{name}")
        return stores[name]

    def _store_json(self, ws: str, name: str, s: dict) -> dict:
        entries = [{"@key": k, "$": ("crypt1:" + base64.b64encode(v.encode()).decode()[::-1]) if k == "passwd" else v}
                   for k, v in s["params"].items()]
        return {"dataStore": {"name": name, "description": s["description"], "type": "PostGIS", "enabled": True,
                              "workspace": {"name": ws}, "connectionParameters": {"entry": entries},
                              "featureTypes": f"{self.url}/rest/workspaces/{ws}/datastores/{name}/featuretypes.json"}}

    def _layer_json(self, qname: str) -> dict:
        if qname not in self.layers:
            raise Reply(404, f"No such layer: {qname}")
        ws, name = qname.split(":", 1)
        style = self.layers[qname]["style"]
        ref = {"name": style, "href": f"{self.url}/rest/styles/{style}.json"}
        if ":" in style:
            ref["workspace"] = style.split(":", 1)[0]
        return {"layer": {"name": name, "type": "VECTOR", "defaultStyle": ref,
                          "resource": {"@class": "featureType", "name": qname}}}

    def _route(self, method: str, parts: list[str], query: dict, ctype: str, body: str):  # noqa: C901 — one branch per REST path
        n = len(parts)
        if parts == ["about", "version.json"] and method == "GET":
            return 200, {"about": {"resource": [{"@name": "GeoServer", "Version": "2.24.2"},
                                                {"@name": "GeoTools", "Version": "30.2"}]}}
        if parts[0] == "workspaces":
            if n == 1 and method == "POST":
                name = ET.fromstring(body).findtext("name")
                if not name:
                    raise Reply(400, "workspace name missing")
                if name in self.workspaces:
                    raise Reply(409, f"Workspace '{name}' already exists")
                self.workspaces[name] = {"stores": {}, "styles": {}}
                return 201, ""
            ws = parts[1].removesuffix(".json")
            if n == 2:
                if method == "GET":
                    self._ws(ws)
                    return 200, {"workspace": {"name": ws, "dataStores": f"{self.url}/rest/workspaces/{ws}/datastores.json"}}
                if method == "DELETE":
                    w = self._ws(ws)
                    if (w["stores"] or w["styles"]) and query.get("recurse") != "true":
                        raise Reply(403, "Workspace not empty")
                    del self.workspaces[ws]
                    for q in [q for q in self.layers if q.startswith(ws + ":")]:
                        del self.layers[q]
                    return 200, ""
            if n >= 3 and parts[2] == "datastores":
                return self._datastores(method, ws, parts[3:], query, body)
            if n >= 3 and parts[2] == "styles":
                return self._styles(method, ws, parts[3:], ctype, body)
            if n == 4 and parts[2] == "layers" and method == "GET":
                return 200, self._layer_json(f"{ws}:{parts[3].removesuffix('.json')}")
        if parts[0] == "layers" and n == 2:
            qname = parts[1].removesuffix(".json")
            if method == "GET":
                return 200, self._layer_json(qname)
            if method == "PUT":
                self._layer_json(qname)
                style = ET.fromstring(body).findtext("defaultStyle/name") or ""
                sws, _, sname = style.rpartition(":")
                if not sws or sname not in self._ws(sws)["styles"]:
                    raise Reply(400, f"No such style: {style}")
                self.layers[qname]["style"] = style
                return 200, ""
        if parts[0] == "layergroups":
            return self._layergroups(method, parts[1:], body)
        raise Reply(404, "No mapping for " + method + " /rest/" + "/".join(parts))

    def _datastores(self, method, ws, rest, query, body):
        w = self._ws(ws)
        if not rest and method == "POST":
            doc = ET.fromstring(body)
            name = doc.findtext("name")
            if name in w["stores"]:
                raise Reply(500, f"Store '{name}' already exists in workspace '{ws}'")
            w["stores"][name] = self._parse_store(doc)
            return 201, ""
        name = rest[0].removesuffix(".json")
        if len(rest) == 1:
            if method == "GET":
                return 200, self._store_json(ws, name, self._store(ws, name))
            if method == "PUT":
                old = self._store(ws, name)
                new = self._parse_store(ET.fromstring(body))
                new["featuretypes"] = old["featuretypes"]
                w["stores"][name] = new
                return 200, ""
        store = self._store(ws, name)
        fts = store["featuretypes"]
        if rest[1:] == ["featuretypes.json"] and method == "GET":
            return 200, {"featureTypes": {"featureType": _one([{"name": k, "href": f"{self.url}/rest/x/{k}.json"}
                                                                for k in fts])}}
        if rest[1] == "featuretypes" and len(rest) in (2, 3) and method == "POST" and (len(rest) == 2 or not rest[2]):
            ft = self._parse_featuretype(ET.fromstring(body))
            if ft["name"] in fts:
                raise Reply(500, f"Resource named '{ft['name']}' already exists in store: '{name}'")
            if self.tables is not None and ft["nativeName"] not in self.tables:
                raise Reply(400, f"Trying to configure a feature type that does not exist: {ft['nativeName']}")
            fts[ft["name"]] = ft
            self.layers[f"{ws}:{ft['name']}"] = {"style": "generic"}
            return 201, ""
        if rest[1] == "featuretypes" and len(rest) == 3:
            ftname = rest[2].removesuffix(".json").removesuffix(".xml")
            if ftname not in fts:
                raise Reply(404, f"No such feature type: {ws},{name},{ftname}")
            if method == "GET":
                ft = dict(fts[ftname])
                ft["keywords"] = {"string": _one(ft["keywords"])}
                return 200, {"featureType": ft}
            if method == "PUT":
                ft = self._parse_featuretype(ET.fromstring(body))
                fts[ftname] = {**fts[ftname], **{k: v for k, v in ft.items() if v is not None}}
                return 200, ""
            if method == "DELETE":
                del fts[ftname]
                self.layers.pop(f"{ws}:{ftname}", None)
                return 200, ""
        raise Reply(404, "No mapping")

    @staticmethod
    def _parse_store(doc) -> dict:
        params = {e.get("key"): (e.text or "") for e in doc.iter("entry")}
        if params.get("dbtype") != "postgis":
            raise Reply(400, "only PostGIS stores here")
        return {"description": doc.findtext("description") or "", "params": params, "featuretypes": {}}

    @staticmethod
    def _parse_featuretype(doc) -> dict:
        return {"name": doc.findtext("name"), "nativeName": doc.findtext("nativeName") or doc.findtext("name"),
                "title": doc.findtext("title"), "abstract": doc.findtext("abstract"),
                "keywords": [k.text or "" for k in doc.findall("keywords/string")],
                "srs": doc.findtext("srs"), "nativeCRS": doc.findtext("nativeCRS"),
                "projectionPolicy": doc.findtext("projectionPolicy"), "enabled": doc.findtext("enabled") != "false"}

    def _styles(self, method, ws, rest, ctype, body):
        styles = self._ws(ws)["styles"]
        if not rest and method == "POST":
            if ctype.split(";")[0] in SLD_TYPES:
                raise Reply(400, "this fake expects the two-step upload geoserver-rest does")
            doc = ET.fromstring(body)
            name = doc.findtext("name")
            if name in styles:
                raise Reply(403, f"Style '{name}' already exists")
            styles[name] = {"filename": doc.findtext("filename"), "sld": None}
            return 201, ""
        name, _, ext = rest[0].partition(".")
        if name not in styles:
            raise Reply(404, f"No such style {name} in workspace {ws}")
        if method == "GET" and ext == "json":
            return 200, {"style": {"name": name, "workspace": {"name": ws}, "format": "sld",
                                   "languageVersion": {"version": "1.0.0"}, "filename": styles[name]["filename"]}}
        if method == "GET" and ext == "sld":
            if styles[name]["sld"] is None:
                raise Reply(404, "style has no SLD yet")
            raise Reply(200, styles[name]["sld"], SLD_TYPES[0])
        if method == "PUT" and not ext:
            if ctype.split(";")[0] not in SLD_TYPES:
                raise Reply(415, f"Unsupported media type {ctype}")
            try:
                root = ET.fromstring(body.encode("utf-8"))
            except ET.ParseError as exc:
                raise Reply(400, f"Invalid style: {exc}") from None
            if not root.tag.endswith("StyledLayerDescriptor"):
                raise Reply(400, "Invalid style: not an SLD")
            styles[name]["sld"] = body
            return 200, ""
        if method == "DELETE" and not ext:
            del styles[name]
            return 200, ""
        raise Reply(404, "No mapping")

    def _layergroups(self, method, rest, body):
        if (not rest or rest == [""]) and method == "POST":
            doc = ET.fromstring(body)
            name = doc.findtext("name")
            if name in self.layergroups:
                raise Reply(403, f"Layer group '{name}' already exists")
            published = [p.findtext("name") for p in doc.findall("publishables/published")]
            for p in published:
                if p not in self.layers:
                    raise Reply(400, f"No such layer: {p}")
            self.layergroups[name] = {"mode": (doc.findtext("mode") or "").upper(), "title": doc.findtext("title"),
                                      "abstractTxt": doc.findtext("abstractTxt"), "published": published}
            return 201, ""
        name = rest[0].removesuffix(".json")
        if name not in self.layergroups:
            raise Reply(404, f"No such layer group {name}")
        if method == "GET":
            g = self.layergroups[name]
            pubs = [{"@type": "layer", "name": p, "href": f"{self.url}/rest/layers/{p}.json"} for p in g["published"]]
            return 200, {"layerGroup": {"name": name, "mode": g["mode"], "title": g["title"],
                                        "abstractTxt": g["abstractTxt"], "publishables": {"published": _one(pubs)},
                                        "styles": {"style": _one([""] * len(pubs))}}}
        if method == "DELETE":
            del self.layergroups[name]
            return 200, ""
        raise Reply(404, "No mapping")

    # ------------------------------------------------------------------ HTTP

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body, content_type: str = "text/plain"):
                if isinstance(body, (dict, list)):
                    data, content_type = json.dumps(body, ensure_ascii=False).encode(), "application/json"
                else:
                    data = str(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                ctype = self.headers.get("Content-Type", "")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.log.append({"method": method, "path": unquote(url.path), "query": query,
                                     "content_type": ctype, "body": body,
                                     "authorization": self.headers.get("Authorization", "")})
                    try:
                        expected = "Basic " + base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode()
                        if self.headers.get("Authorization") != expected:
                            raise Reply(401, "HTTP Status 401 – Unauthorized")
                        if fake.fail_status:
                            raise Reply(fake.fail_status, "java.lang.NullPointerException\n\tat org.geoserver...")
                        if fake.fail_writes and method != "GET":
                            raise Reply(fake.fail_writes, "java.lang.RuntimeException: catalog is read-only")
                        prefix = "/geoserver/rest/"
                        path = unquote(url.path)
                        if not path.startswith(prefix):
                            raise Reply(404, "not a REST path")
                        status, answer = fake._route(method, path[len(prefix):].split("/"), query, ctype, body)
                        ctype_out = "text/plain"
                    except Reply as r:
                        status, answer, ctype_out = r.status, r.body, r.content_type
                    except ET.ParseError as exc:
                        status, answer, ctype_out = 400, f"Could not parse the request body: {exc}", "text/plain"
                self._answer(status, answer, ctype_out)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_PUT(self):
                self._serve("PUT")

            def do_DELETE(self):
                self._serve("DELETE")

        return Handler
