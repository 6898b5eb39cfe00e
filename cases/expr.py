"""The guard language of workflows: a small, whitelisted subset of Python expression syntax.

    case.urgency == 'critical' and data.verdict in ['fixed', 'partly_fixed']
    not case.postpone_pending or role == 'leader'
    startswith(case.category_code, '06') and len(photos) >= 2

Python's parser only builds the tree (`ast.parse`, no compilation); `Guard` walks the tree itself and
refuses every node outside the list below when the workflow is loaded — so a guard can read the case,
the transition's data and the actor, and do nothing else (no calls except `len`/`startswith`, no
attribute beyond plain dict keys, no `eval`/`exec`).
"""
from __future__ import annotations

import ast
from typing import Any

ROOTS = {"case", "data", "role", "actor", "photos", "channel"}
FUNCTIONS = {
    "len": lambda x: len(x) if x is not None else 0,
    "startswith": lambda s, p: isinstance(s, str) and isinstance(p, str) and s.startswith(p),
}
COMPARE = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: b is not None and a in b, ast.NotIn: lambda a, b: b is None or a not in b,
}
MAX_LENGTH = 500


class GuardError(ValueError):
    """The guard text is not in the language; the message says where."""


class Guard:
    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise GuardError("a guard must be a non-empty string")
        if len(text) > MAX_LENGTH:
            raise GuardError(f"a guard is at most {MAX_LENGTH} characters")
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise GuardError(f"syntax error at column {exc.offset}: {exc.msg}") from None
        self._check(self.tree, 0)

    def _check(self, node: ast.AST, depth: int) -> None:  # noqa: C901 — one branch per node type of the guard language
        if depth > 30:
            raise GuardError("guard nested too deeply")
        where = f"column {getattr(node, 'col_offset', 0) + 1}"
        match node:
            case ast.BoolOp(op=ast.And() | ast.Or(), values=values):
                for v in values:
                    self._check(v, depth + 1)
            case ast.UnaryOp(op=ast.Not() | ast.USub(), operand=operand):
                self._check(operand, depth + 1)
            case ast.Compare(left=left, ops=ops, comparators=comps):
                for op in ops:
                    if type(op) not in COMPARE:
                        raise GuardError(f"operator {type(op).__name__} not allowed ({where})")
                for v in [left, *comps]:
                    self._check(v, depth + 1)
            case ast.Constant(value=value):
                if not (value is None or isinstance(value, (str, int, float, bool))):
                    raise GuardError(f"constant {value!r} not allowed ({where})")
            case ast.Name(id=name):
                if name not in ROOTS:
                    raise GuardError(f"unknown name {name!r} ({where}); use one of {sorted(ROOTS)}")
            case ast.Attribute(value=value, attr=attr):
                if attr.startswith("_"):
                    raise GuardError(f"attribute {attr!r} not allowed ({where})")
                self._check(value, depth + 1)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                for v in elts:
                    self._check(v, depth + 1)
            case ast.Call(func=ast.Name(id=fname), args=args, keywords=[]) if fname in FUNCTIONS:
                for v in args:
                    self._check(v, depth + 1)
            case _:
                raise GuardError(f"{type(node).__name__} not allowed in a guard ({where})")

    def case_fields(self) -> set[str] | None:
        """The case fields the guard reads (`case.x`, and `channel`); None when it reads the case
        as a whole (then every field may matter)."""
        fields: set[str] = set()
        attrs = {id(n.value) for n in ast.walk(self.tree) if isinstance(n, ast.Attribute)}
        for n in ast.walk(self.tree):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "case":
                fields.add(n.attr)
            elif isinstance(n, ast.Name) and n.id == "case" and id(n) not in attrs:
                return None
            elif isinstance(n, ast.Name) and n.id == "channel":
                fields.add("channel")
        return fields

    def __call__(self, context: dict[str, Any]) -> bool:
        try:
            return bool(self._eval(self.tree, context))
        except TypeError:  # comparing None with a number and the like: the guard does not hold
            return False

    def _eval(self, node: ast.AST, ctx: dict[str, Any]) -> Any:  # noqa: C901 — one branch per node type of the guard language
        match node:
            case ast.BoolOp(op=ast.And(), values=values):
                result = True
                for v in values:
                    result = self._eval(v, ctx)
                    if not result:
                        return result
                return result
            case ast.BoolOp(op=ast.Or(), values=values):
                result = False
                for v in values:
                    result = self._eval(v, ctx)
                    if result:
                        return result
                return result
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self._eval(operand, ctx)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self._eval(operand, ctx)
            case ast.Compare(left=left, ops=ops, comparators=comps):
                a = self._eval(left, ctx)
                for op, comp in zip(ops, comps, strict=True):
                    b = self._eval(comp, ctx)
                    if not COMPARE[type(op)](a, b):
                        return False
                    a = b
                return True
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return ctx.get(name)
            case ast.Attribute(value=value, attr=attr):
                base = self._eval(value, ctx)
                return base.get(attr) if isinstance(base, dict) else None
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return [self._eval(v, ctx) for v in elts]
            case ast.Call(func=ast.Name(id=fname), args=args):
                return FUNCTIONS[fname](*[self._eval(v, ctx) for v in args])
        raise GuardError(f"{type(node).__name__} not allowed")  # unreachable after _check
