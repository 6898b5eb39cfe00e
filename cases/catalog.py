"""Category resolution (问题类别): GB/T 47678.5 codes as they are, CJ/T 214 codes mapped through the
`catalog_mapping` table; a component class becomes the matter (事项) of the same code when there is one.
The catalogs are small and change only by migration: the app state caches them (cases/cache.py)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from civicgrid.errors import InvalidInput

GBT = "GB/T 47678.5-2026"
CJT = "CJ/T 214-2007"
STANDARD_ALIASES = {"gbt47678": GBT, GBT: GBT, "GB/T 47678.5": GBT, "cjt214": CJT, CJT: CJT, "CJ/T 214": CJT}


@dataclass(frozen=True)
class Category:
    standard: str
    kind: str
    code: str
    name: str
    major_name: str


class Catalog:
    def __init__(self, conn):
        rows = conn.execute("SELECT standard, kind, code, name, major_name FROM code_catalog").fetchall()
        self.entries = {(r["standard"], r["kind"], r["code"]): Category(**r) for r in rows}
        self.mapping = {(r["from_standard"], r["from_kind"], r["from_code"]): (r["to_standard"], r["to_kind"], r["to_code"])
                        for r in conn.execute("SELECT * FROM catalog_mapping").fetchall()}
        self.related: dict[tuple, set[str]] = {}
        for r in conn.execute("SELECT standard, kind, code, related_code FROM category_relation").fetchall():
            self.related.setdefault((r["standard"], r["kind"], r["code"]), set()).add(r["related_code"])
            self.related.setdefault((r["standard"], r["kind"], r["related_code"]), set()).add(r["code"])

    def resolve(self, code: str, standard: str | None = None, kind: str | None = None,
                field: str = "category_code") -> tuple[Category, Category | None]:
        """(category used for the case, the category as reported when it was mapped)."""
        if standard is not None and standard not in STANDARD_ALIASES:
            raise InvalidInput(f"unknown standard {standard!r}; use {GBT} or {CJT}", field="standard")
        std = STANDARD_ALIASES.get(standard) if standard else (CJT if len(code) == 4 else GBT)
        kinds = [kind] if kind else (["matter", "component"] if std == GBT else ["event", "component"])
        original = next((self.entries[(std, k, code)] for k in kinds if (std, k, code) in self.entries), None)
        if original is None:
            raise InvalidInput(f"unknown category {code!r} in {std}" + (f" ({kind})" if kind else ""), field=field)
        if std == CJT:
            target = self.mapping.get((original.standard, original.kind, original.code))
            if target is None:
                raise InvalidInput(f"CJ/T 214 category {code} ({original.name}) has no GB/T 47678.5 equivalent yet; "
                                   "report it with a GB/T 47678.5 code", field=field)
            mapped = self.entries[target]
            return self.as_matter(mapped), original
        return self.as_matter(original), None

    def as_matter(self, cat: Category) -> Category:
        if cat.kind == "component":
            return self.entries.get((cat.standard, "matter", cat.code), cat)
        return cat

    def related_codes(self, cat: Category) -> list[str]:
        return sorted(self.related.get((cat.standard, cat.kind, cat.code), ()))


KIND_NAMES = {"matter": "事项", "component": "部件"}


@lru_cache(maxsize=4096)
def spell(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a name; pypinyin is slow and the catalog's names change only by migration."""
    from pypinyin import Style, lazy_pinyin

    return ("".join(lazy_pinyin(name, errors="ignore")),
            "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")))


def tree(conn) -> list[dict]:
    """GET /api/catalog: kind → major class → class, each node with its pinyin and initials so the
    page can filter the tree by 井盖, jinggai or jg. A node's `code` is the prefix the case list's
    `category` filter takes (a major class selects all its classes)."""
    from civicgrid.db import load_sql

    def node(code, name, kind, cases=0, children=None):
        pinyin, initials = spell(name)
        out = {"key": f"{kind}:{code}", "code": code, "name": name, "kind": kind, "cases": cases,
               "pinyin": pinyin, "initials": initials}
        if children is not None:
            out["children"] = children
        return out

    kinds: dict[str, dict] = {}
    for r in conn.execute(load_sql("civicgrid.cases", "catalog_tree.sql")).fetchall():
        kind = kinds.setdefault(r["kind"], {"majors": {}})
        major = kind["majors"].setdefault(r["major_code"], {"name": r["major_name"], "children": []})
        leaf = node(r["code"], r["name"], r["kind"], r["cases"])
        if r["kind"] == "component":
            leaf["geometry_kind"] = r["geometry_kind"]
        major["children"].append(leaf)
    out = []
    for kind, body in kinds.items():
        majors = [node(code, m["name"], kind, sum(c["cases"] for c in m["children"]), m["children"])
                  for code, m in body["majors"].items()]
        root = node("", KIND_NAMES.get(kind, kind), kind, sum(m["cases"] for m in majors), majors)
        root["key"] = kind
        out.append(root)
    return out
