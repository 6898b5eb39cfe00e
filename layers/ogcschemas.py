"""The OGC OpenAPI document of /ogc made self-contained: pygeoapi 0.24 writes `$ref`s to
schemas.opengis.net and raw.githubusercontent.com; each is replaced by a local component, copied
into the document from `schemas/` (pinned copies, see schemas/README.md). No client and no test
needs the internet to read or fuzz /ogc/openapi.
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).with_name("schemas")
FEATURES_1 = "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/ogcapi-features-1.yaml#/components/"
PROCESSES_1 = "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/"
REMOTE = {
    "https://schemas.opengis.net/ogcapi/tiles/part1/1.0/openapi/ogcapi-tiles-1.yaml#/components/schemas/link":
        "#/components/schemas/tilesLink",
    "https://raw.githubusercontent.com/opengeospatial/ogcapi-records/master/core/openapi/parameters/sortby.yaml":
        "#/components/parameters/sortby",
    "https://schemas.opengis.net/cql2/1.0/cql2.json": "#/components/schemas/cql2",
}


@lru_cache(maxsize=1)
def components() -> dict[str, dict]:
    """responses, parameters and schemas: components.yaml plus one schema per file of ogcapi-features-1/."""
    out = yaml.safe_load((SCHEMAS / "components.yaml").read_text(encoding="utf-8"))
    for path in sorted((SCHEMAS / "ogcapi-features-1").glob("*.yaml")):
        out["schemas"][path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


def local_ref(ref: str) -> str | None:
    if ref in REMOTE:
        return REMOTE[ref]
    if ref.startswith(FEATURES_1):
        kind, _, name = ref[len(FEATURES_1):].partition("/")
    elif ref.startswith(PROCESSES_1) and ref.endswith(".yaml"):
        # responses/NotFound.yaml → responses/processesNotFound, schemas/execute.yaml → schemas/processesExecute
        kind, _, name = ref[len(PROCESSES_1):-len(".yaml")].partition("/")
        name = "processes" + name[:1].upper() + name[1:]
    else:
        return None
    return f"#/components/{kind}/{name}" if name in components().get(kind, {}) else None


def _ref_nodes(doc: Any):
    """Every object of the document that has a `$ref` (iterative, depth first)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def remote_refs(doc: Any) -> list[str]:
    """Every `$ref` of the document that is not local (`#/…`)."""
    return [node["$ref"] for node in _ref_nodes(doc) if not node["$ref"].startswith("#")]


# where pygeoapi's document or the OGC schema disagree with what the standards allow (named, fixed here)
RESPONSE_FIXES = {
    # pygeoapi 0.24 gives /conformance and /collections the landing page's response
    "/conformance": "#/components/responses/ConformanceDeclaration",
    "/collections": "#/components/responses/Collections",
}


def _fix_quirks(doc: dict) -> None:
    for path, ref in RESPONSE_FIXES.items():
        op = doc.get("paths", {}).get(path, {}).get("get")
        if op and "200" in op.get("responses", {}):
            op["responses"]["200"] = {"$ref": ref}
    # a dismissal answers 200 with the job's status (Processes Part 1, 13.x); pygeoapi declares 204 only
    dismiss = doc.get("paths", {}).get("/jobs/{jobId}", {}).get("delete")
    if dismiss is not None:
        dismiss["responses"]["200"] = {"description": "The job was dismissed", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/processesStatusInfo"}}}}
    # GeoJSON (RFC 7946 §3.2) allows a feature without geometry: skipGeometry=true, rows without a place
    feature = doc["components"]["schemas"].get("featureGeoJSON")
    if feature and "$ref" in feature["properties"].get("geometry", {}):
        feature["properties"]["geometry"] = {"nullable": True, "allOf": [feature["properties"]["geometry"]]}


def self_contained(doc: dict) -> dict:
    """The document with every known remote `$ref` pointing into its own components."""
    for node in list(_ref_nodes(doc)):
        if re.match(r"https?://", node["$ref"]):
            node["$ref"] = local_ref(node["$ref"]) or node["$ref"]
    comps = doc.setdefault("components", {})
    for kind, entries in components().items():
        for name, value in entries.items():
            comps.setdefault(kind, {}).setdefault(name, copy.deepcopy(value))
    _fix_quirks(doc)
    return doc
