"""Client input before it reaches a parser, a model or the database: one place for the limits.

- `loads(raw)`       JSON with a size limit, strict UTF-8 and a nesting limit checked *before*
                     the parser runs (Python's json recurses: 100,000 `[` is a RecursionError), and
                     no NUL character in any string (PostgreSQL text cannot hold one);
- `parse_model(model, data)`  a pydantic model or a 400 naming the field — the one conversion of
                     ValidationError for every handler;
- `read_model(request, model)` both, for a request body;
- `check_text(value, field)` a query parameter or form field: no NUL;
- `load_yaml(text, field)` a client's YAML (workflow definitions, survey mappings) within a size
                     limit, a nesting limit and a limit on nodes counted with their aliases
                     expanded (a "billion laughs" document is a few hundred bytes).
"""
from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from civicgrid.errors import InvalidInput, PayloadTooLarge

MAX_JSON_BYTES = 2_000_000
MAX_JSON_DEPTH = 64
MAX_YAML_BYTES = 256_000
MAX_YAML_NODES = 100_000

M = TypeVar("M", bound=BaseModel)

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes, stop: int | None = None) -> int:
    """The deepest nesting of arrays and objects, strings skipped (brackets inside them do not count);
    with `stop`, the count ends as soon as it passes that depth (a 2 MB run of `[` costs no more
    than a short one)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRINGS.sub(b"", raw)):
        if m.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if stop is not None and deepest > stop:
                break
        else:
            depth -= 1
    return deepest


def _decode(raw: bytes | str, field: str) -> bytes:
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogatepass")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{field} is not valid UTF-8 (byte {exc.start})", field=field) from None
    return raw


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                return path
            found = _nul_path(v, f"{path}.{k}" if path else k)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, v in enumerate(value):
            found = _nul_path(v, f"{path}.{n}" if path else str(n))
            if found is not None:
                return found
    return None


def loads(raw: bytes | str, field: str = "body", *, max_bytes: int = MAX_JSON_BYTES,
          max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a client's JSON within the limits, or raise a 4xx naming `field`."""
    data = _decode(raw, field)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{field}: JSON of {len(data)} bytes is over the limit of {max_bytes}", field=field)
    if json_depth(data, stop=max_depth) > max_depth:
        raise InvalidInput(f"{field}: JSON nested more than {max_depth} deep", field=field)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable"
        raise InvalidInput(f"{field} is not JSON: {msg}", field=field) from None
    where = _nul_path(value, "")
    if where is not None:
        shown = f"{field}.{where}" if where and field != "body" else (where or field)
        raise InvalidInput(f"{shown}: text must not contain the NUL character", field=shown)
    return value


def check_text(value: str | None, field: str) -> str | None:
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{field}: text must not contain the NUL character", field=field)
    return value


def validation_error(exc: ValidationError, prefix: str = "", rename: dict[str, str] | None = None,
                     default: str = "body", fields=()) -> InvalidInput:
    """The first problem of a ValidationError as a 400 naming the field (`a.b.0`), with the message
    pydantic gave; `prefix` puts the model under a name (`properties.`), `rename` maps field names
    to the names clients use (`datetime_` → `datetime`)."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if loc and rename:
        loc[0] = rename.get(loc[0], loc[0])
    msg = err["msg"].removeprefix("Value error, ")
    if not loc:
        # a rule across fields: its message starts with the field it blames
        m = re.match(r"([a-zA-Z_][a-zA-Z_0-9]*)", msg)
        loc = [m.group(1)] if m and m.group(1) in fields else []
    name = prefix + ".".join(loc) if loc else (prefix.rstrip(".") or default)
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required"
    return InvalidInput(f"{name}: {msg}", field=name)


def parse_model(model: type[M], data: Any, *, prefix: str = "", rename: dict[str, str] | None = None,
                default: str = "body") -> M:
    """`model` validated from `data`, or a 400 naming the first bad field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{prefix.rstrip('.') or default} must be a JSON object", field=prefix.rstrip(".") or default)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, prefix, rename, default, fields=model.model_fields) from None


async def read_json(request, field: str = "body", empty: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise InvalidInput(f"{field}: a JSON body is required", field=field)
    return loads(raw, field)


async def read_model(request, model: type[M], *, empty_ok: bool = False) -> M:
    """The request's JSON body as `model` (an empty body is `{}` when `empty_ok`)."""
    return parse_model(model, await read_json(request, empty={} if empty_ok else None))


def _yaml_children(node) -> list:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [c for pair in node.value for c in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _yaml_size(root) -> tuple[int, int] | None:
    """(nodes, depth) of a composed YAML graph with every alias expanded, without expanding it: a
    node shared through aliases counts once per use (memoised, iterative). None: an alias cycle."""
    sizes: dict[int, tuple[int, int]] = {}
    active = {id(root)}
    stack = [(root, iter(_yaml_children(root)))]
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is not None:
            if id(child) in active:
                return None
            if id(child) not in sizes:
                active.add(id(child))
                stack.append((child, iter(_yaml_children(child))))
            continue
        stack.pop()
        active.discard(id(node))
        kids = [sizes[id(c)] for c in _yaml_children(node)]
        sizes[id(node)] = (1 + sum(n for n, _ in kids), 1 + max((d for _, d in kids), default=-1) if kids else 0)
    return sizes[id(root)]


def load_yaml(text: str, field: str = "body", *, max_bytes: int = MAX_YAML_BYTES, max_depth: int = MAX_JSON_DEPTH,
              max_nodes: int = MAX_YAML_NODES) -> Any:
    """A client's YAML (or JSON) text as data, or a 4xx naming `field`. The text is composed into
    nodes first (safe tags only) and measured — size, nesting (flow brackets checked before the
    parser, which recurses), nodes with aliases expanded — before anything is constructed.
    yaml.YAMLError passes through for the caller to locate."""
    import yaml

    data = _decode(text, field)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{field}: {len(data)} bytes of YAML is over the limit of {max_bytes}", field=field)
    if json_depth(data, stop=max_depth) > max_depth:
        raise InvalidInput(f"{field}: nested more than {max_depth} deep", field=field)
    loader = yaml.SafeLoader(data.decode("utf-8"))
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        measured = _yaml_size(node)
        if measured is None:
            raise InvalidInput(f"{field}: an alias refers to its own anchor", field=field)
        nodes, depth = measured
        if depth > max_depth:
            raise InvalidInput(f"{field}: nested {depth} deep, more than {max_depth} allowed", field=field)
        if nodes > max_nodes:
            raise InvalidInput(f"{field}: {nodes:,} values with its aliases expanded, more than {max_nodes:,} allowed",
                               field=field)
        value = loader.construct_document(node)
    except RecursionError:
        raise InvalidInput(f"{field}: nested too deep", field=field) from None
    finally:
        loader.dispose()
    where = _nul_path(value, "")
    if where is not None:
        raise InvalidInput(f"{field}: text must not contain the NUL character", field=field)
    return value
