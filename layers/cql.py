"""CQL2 (text and JSON) → a psycopg `sql.Composed` WHERE clause, never string-glued values.

Parsing is done by the `cql2` package (keywords in any case, text and JSON, validation); it turns
both encodings into CQL2 JSON, which `to_sql` walks. Property names are checked against the
collection's columns (`collections.py`) and become `sql.Identifier`s; every literal becomes a
psycopg `sql.Literal` (the library's quoting) with an explicit cast taken from the property's type, so a client's mistake
(comparing a text property with a number, a bad timestamp) is a 400, not a database error.

Supported: and/or/not, = <> < <= > >=, like, between, in, isNull, casei, accenti (identity: no
unaccent extension), S_INTERSECTS/S_EQUALS/S_DISJOINT/S_TOUCHES/S_WITHIN/S_OVERLAPS/S_CROSSES/
S_CONTAINS, T_AFTER/T_BEFORE/T_EQUALS/T_INTERSECTS/T_DURING/T_DISJOINT on instants and intervals.
"""
from __future__ import annotations

import json
import re
from typing import Any

import cql2
from psycopg import sql

from civicgrid.errors import InvalidInput
from civicgrid.inputs import check_text, loads
from civicgrid.layers.collections import Collection

COMPARISON = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SPATIAL = {
    "s_intersects": "ST_Intersects", "s_equals": "ST_Equals", "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches", "s_within": "ST_Within", "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses", "s_contains": "ST_Contains",
}
TEMPORAL = {"t_after", "t_before", "t_equals", "t_intersects", "t_during", "t_disjoint",
            "anyinteracts"}


# The `cql2` library parses recursively in native code: 2,000 nested parentheses overflow its stack
# and kill the process (no exception to catch), 500 nested NOTs exhaust Python's recursion. So the
# text's size and nesting are bounded here, before the library sees it.
MAX_FILTER_CHARS = 16_000
MAX_FILTER_DEPTH = 32
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NOT = re.compile(r"\bnot\b", re.I)


def text_depth(text: str) -> int:
    """An upper bound of how deep a CQL2 text expression nests: the deepest parenthesis plus every
    NOT (which nests without parentheses); quoted strings skipped."""
    bare = _QUOTED.sub("''", text)
    depth = deepest = 0
    for ch in bare:
        if ch == "(" or ch == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")" or ch == "]":
            depth -= 1
    return deepest + len(_NOT.findall(bare))


def guard(text: str | None = None, data: Any = None) -> str | None:
    """Refuse a filter too long or too deep for the parser (400 naming `filter`); JSON text → checked
    JSON, a parsed value's depth is checked too."""
    if data is not None:
        raw = data if isinstance(data, str) else json.dumps(data)
        if len(raw) > MAX_FILTER_CHARS:
            raise InvalidInput(f"the filter has {len(raw)} characters, more than {MAX_FILTER_CHARS}", field="filter")
        loads(raw, "filter", max_depth=MAX_FILTER_DEPTH * 2)   # JSON nests twice per CQL2 level (op, args)
        return raw
    if text is None:
        return None
    check_text(text, "filter")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(f"the filter has {len(text)} characters, more than {MAX_FILTER_CHARS}", field="filter")
    depth = text_depth(text)
    if depth > MAX_FILTER_DEPTH:
        raise InvalidInput(f"the filter nests {depth} deep (parentheses and NOT), more than {MAX_FILTER_DEPTH}",
                           field="filter")
    return text


def parse(text: str | None = None, data: Any = None, lang: str | None = None) -> dict:
    """CQL2 text or JSON → CQL2 JSON (dict). Raises InvalidInput naming `filter`."""
    if data is None and lang == "cql2-json":
        data = text
    guarded = guard(text, data)
    try:
        if data is not None:
            expr = cql2.parse_json(guarded)
        else:
            expr = cql2.parse_text(guarded)
        return expr.to_json()
    except RecursionError:
        raise InvalidInput("the filter nests too deep", field="filter") from None
    except (cql2.ParseError, cql2.ValidationError, ValueError, TypeError) as exc:
        first = " ".join(str(exc).split())[:300]
        raise InvalidInput(f"malformed CQL2 filter: {first}", field="filter") from exc


class Translator:
    """Walks CQL2 JSON for one collection. `geom_input` turns a GeoJSON param into 4490 SQL."""

    def __init__(self, collection: Collection, filter_srid: int | None = None):
        self.c = collection
        self.filter_srid = filter_srid  # None = CRS84 (lon/lat, no transform needed)

    # ------------------------------------------------------------ operands
    def prop(self, name: str) -> tuple[sql.Composable, str, str | None]:
        """SQL for a property reference, with its JSON type and format."""
        c = self.c
        if name in ("geometry", c.geom_column):
            return sql.SQL("t.{}").format(sql.Identifier(c.geom_column)), "geometry", None
        col = c.column(name)
        if col is None and c.column(name.lower()) is not None:
            col = c.column(name.lower())  # property names are case-sensitive in CQL2; be lenient
        if col is not None:
            expr = sql.SQL(col.sql) if col.sql else sql.SQL("t.{}").format(sql.Identifier(col.name))
            return expr, col.type, col.format
        if name in c.key or (name == "id" and len(c.key) == 1):
            key = c.key[0] if name == "id" else name
            kind = "integer" if c.id_type == "integer" else "string"
            return sql.SQL("t.{}").format(sql.Identifier(key)), kind, None
        raise InvalidInput(f"unknown property '{name}' in filter; queryables: "
                           + ", ".join(c.column_names), field="filter")

    def geometry_literal(self, node: Any) -> sql.Composable:
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if len(box) not in (4, 6):
                raise InvalidInput("BBOX needs 4 (or 6) numbers", field="filter")
            x1, y1, x2, y2 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            geom = {"type": "Polygon", "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}
        elif isinstance(node, dict) and "type" in node and ("coordinates" in node or "geometries" in node):
            geom = node
        else:
            raise InvalidInput(f"expected a geometry, got {json.dumps(node, ensure_ascii=False)[:80]}", field="filter")
        base = sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}::text), 4490)").format(sql.Literal(json.dumps(geom)))
        if self.filter_srid is None:
            return base
        if self.filter_srid == 4490:
            return sql.SQL("ST_FlipCoordinates({})").format(base)
        return sql.SQL("ST_Transform(ST_FlipCoordinates(ST_SetSRID({}, {})), 4490)").format(
            base, sql.Literal(self.filter_srid))

    def operand(self, node: Any, want: str | None = None, fmt: str | None = None):
        """An operand: property, function, or literal (cast to the wanted type)."""
        if isinstance(node, dict):
            if "property" in node:
                return self.prop(node["property"])[0]
            if "op" in node and node["op"] in ("casei", "accenti"):
                inner = self.operand(node["args"][0], "string")
                return sql.SQL("lower({})").format(inner) if node["op"] == "casei" else inner
            if "timestamp" in node:
                return self.literal(node["timestamp"], "string", "date-time")
            if "date" in node:
                return self.literal(node["date"], "string", "date")
            if "bbox" in node or "type" in node:
                return self.geometry_literal(node)
            if "op" in node:
                raise InvalidInput(f"operator '{node['op']}' is not supported as a value", field="filter")
        return self.literal(node, want, fmt)

    def literal(self, value: Any, want: str | None, fmt: str | None) -> sql.Composable:
        if value is None:
            return sql.SQL("NULL")
        if want == "boolean" and not isinstance(value, bool):
            # 1/0 and 'true'/'false' (what GDAL and spreadsheets send) compare with a boolean property
            text = str(int(value)) if isinstance(value, (int, float)) and value in (0, 1) else str(value).lower()
            if text not in ("1", "0", "true", "false"):
                raise InvalidInput(f"cannot compare a boolean property with {json.dumps(value, ensure_ascii=False)[:40]}",
                                   field="filter")
            value = text in ("1", "true")
        if isinstance(value, bool):
            if want not in (None, "boolean"):
                raise InvalidInput(f"cannot compare a {want} property with a boolean", field="filter")
            return sql.SQL("{}::boolean").format(sql.Literal(value))
        if isinstance(value, (int, float)):
            if want == "string":
                raise InvalidInput("cannot compare a text property with a number: quote the value", field="filter")
            if want in ("boolean", "array", "object", "geometry"):
                raise InvalidInput(f"cannot compare a {want} property with a number", field="filter")
            if want == "integer" and float(value).is_integer():
                return sql.SQL("{}::bigint").format(sql.Literal(int(value)))
            return sql.SQL("{}::double precision").format(sql.Literal(float(value)))
        if isinstance(value, str):
            if want in ("array", "object", "geometry"):
                raise InvalidInput(f"cannot compare a{'n' if want[0] in 'ao' else ''} {want} property with text; "
                                   "only scalar properties can be compared", field="filter")
            if fmt in ("date-time", "date"):
                return sql.SQL("{}::timestamptz" if fmt == "date-time" else "{}::date").format(sql.Literal(value))
            if want in ("integer", "number"):
                raise InvalidInput(f"cannot compare a numeric property with the text '{value[:40]}'", field="filter")
            return sql.SQL("{}::text").format(sql.Literal(value))
        raise InvalidInput(f"unsupported literal {json.dumps(value, ensure_ascii=False)[:80]}", field="filter")

    def typeof(self, node: Any) -> tuple[str | None, str | None]:
        if isinstance(node, dict):
            if "property" in node:
                _, kind, fmt = self.prop(node["property"])
                return kind, fmt
            if node.get("op") in ("casei", "accenti"):
                return "string", None
            if "timestamp" in node:
                return "string", "date-time"
            if "date" in node:
                return "string", "date"
        return None, None

    # ------------------------------------------------------------ predicates
    def predicate(self, node: Any) -> sql.Composable:
        if isinstance(node, bool):
            return sql.SQL("TRUE" if node else "FALSE")
        if not isinstance(node, dict):
            raise InvalidInput("a filter must be a predicate", field="filter")
        if "property" in node:
            expr, kind, _ = self.prop(node["property"])
            if kind != "boolean":
                raise InvalidInput(f"property '{node['property']}' is not a boolean", field="filter")
            return expr
        op = str(node.get("op", "")).lower()
        args = node.get("args", [])
        if op in ("and", "or"):
            parts = [self.predicate(a) for a in args]
            joiner = sql.SQL(" AND " if op == "and" else " OR ")
            return sql.SQL("({})").format(joiner.join(parts))
        if op == "not":
            return sql.SQL("(NOT {})").format(self.predicate(args[0]))
        if op in COMPARISON or op == "like":
            left, right = args
            lk, lf = self.typeof(left)
            rk, rf = self.typeof(right)
            a = self.operand(left, rk, rf)
            b = self.operand(right, lk, lf)
            sym = "LIKE" if op == "like" else COMPARISON[op]
            return sql.SQL("({} {} {})").format(a, sql.SQL(sym), b)
        if op == "between":
            target, low, high = args
            k, f = self.typeof(target)
            return sql.SQL("({} BETWEEN {} AND {})").format(
                self.operand(target), self.operand(low, k, f), self.operand(high, k, f))
        if op == "in":
            target, values = args
            k, f = self.typeof(target)
            if not isinstance(values, list) or not values:
                raise InvalidInput("IN needs a non-empty list", field="filter")
            items = sql.SQL(", ").join(self.operand(v, k, f) for v in values)
            return sql.SQL("({} IN ({}))").format(self.operand(target), items)
        if op == "isnull":
            return sql.SQL("({} IS NULL)").format(self.operand(args[0]))
        if op in SPATIAL:
            a, b = (self.spatial_operand(x) for x in args)
            return sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL[op]), a, b)
        if op in TEMPORAL:
            return self.temporal(op, args)
        raise InvalidInput(f"unsupported CQL2 operator '{node.get('op')}'", field="filter")

    def spatial_operand(self, node: Any) -> sql.Composable:
        if isinstance(node, dict) and "property" in node:
            expr, kind, _ = self.prop(node["property"])
            if kind != "geometry":
                raise InvalidInput(f"property '{node['property']}' is not a geometry", field="filter")
            return expr
        return self.geometry_literal(node)

    def interval(self, node: Any) -> tuple[sql.Composable | None, sql.Composable | None]:
        if isinstance(node, dict) and "interval" in node:
            ends = []
            for v in node["interval"]:
                if isinstance(v, dict):
                    v = v.get("timestamp", v.get("date"))
                ends.append(None if v in ("..", None) else self.literal(v, "string", "date-time"))
            return ends[0], ends[1]
        if isinstance(node, dict) and "property" in node:
            expr = self.operand(node)
            return expr, expr
        value = self.operand(node, "string", "date-time")
        return value, value

    def temporal(self, op: str, args: list) -> sql.Composable:
        (a0, a1), (b0, b1) = self.interval(args[0]), self.interval(args[1])
        lo = lambda x, y: sql.SQL("TRUE") if x is None or y is None else sql.SQL("{} >= {}").format(x, y)  # noqa: E731
        if op == "t_after":
            return sql.SQL("({} > {})").format(a0, b1) if b1 is not None else sql.SQL("FALSE")
        if op == "t_before":
            return sql.SQL("({} < {})").format(a1, b0) if b0 is not None else sql.SQL("FALSE")
        if op == "t_equals":
            return sql.SQL("({} = {} AND {} = {})").format(a0, b0, a1, b1)
        if op == "t_during":
            return sql.SQL("({} AND {})").format(lo(a0, b0), lo(b1, a1))
        inter = sql.SQL("({} AND {})").format(lo(a1, b0), lo(b1, a0))
        if op == "t_disjoint":
            return sql.SQL("(NOT {})").format(inter)
        return inter


def to_sql(expr: dict, collection: Collection, filter_srid: int | None = None) -> sql.Composable:
    """CQL2 JSON → a boolean SQL expression over alias `t`.

    Values are embedded with `sql.Literal` (psycopg's own quoting and adaptation), which keeps
    each operand next to its cast and is as safe as a bound parameter.
    """
    return Translator(collection, filter_srid).predicate(expr)
