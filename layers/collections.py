"""The registry of published collections: which table or view backs each OGC API collection.

This is the one place the Features engine (`features.py`), the editor (`edit.py`), the pygeoapi
provider (`provider.py`) and the tiles (`tiles.py`) learn how a collection maps onto SQL:

    from civicgrid.layers.collections import COLLECTIONS, get_collection
    c = get_collection("urban-components")
    c.table, c.key, c.geom_column, c.time_column, c.columns, c.title_zh, c.title_en

Everything here is trusted constant text (never user input); user input only ever selects one of
these names and is checked against them. Titles and descriptions shown by pygeoapi come from
pygeoapi-config.yml; the ones here are for our own pages (tiles metadata, the web map).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A public property. `type` is a JSON Schema type; `format` 'date'/'date-time' for times.

    `sql` is a trusted SQL expression over the table alias `t` when the property is not a plain
    column (e.g. an aggregate of a child table). `enum_sql` lists the allowed values (queryables).
    """

    name: str
    type: str = "string"
    format: str | None = None
    sql: str | None = None
    enum_sql: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Collection:
    id: str
    table: str                       # table or view name in schema public
    key: tuple[str, ...]              # the columns that identify a feature, in keyset order
    columns: tuple[Column, ...]
    title_zh: str
    title_en: str
    geom_column: str = "geom"
    geometry_type: str = "geometry"   # point, polygon, multipolygon, geometry (mixed)
    time_column: str | None = None
    editable: bool = False
    versioned: bool = False           # has a `version` column → ETag
    # Feature id text ↔ key: single-column keys use the column itself; composite keys need both
    id_sql: str | None = None         # SQL over alias `t` producing the id (composite keys)
    id_type: str = "string"           # 'string' or 'integer' (how ids appear in GeoJSON)
    description_zh: str = ""
    description_en: str = ""
    tiles: bool = False               # offered as MVT by layers/tiles.py
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


S, I, N, B = "string", "integer", "number", "boolean"
DATE = dict(type=S, format="date")
TS = dict(type=S, format="date-time")

COMPONENT_TYPE_ENUM = ("SELECT DISTINCT code FROM code_catalog WHERE kind = 'component' ORDER BY code")
CASE_CATEGORY_ENUM = ("SELECT DISTINCT code FROM code_catalog WHERE kind IN ('matter', 'event') ORDER BY code")

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        id="urban-components", table="component", key=("id",), geometry_type="geometry",
        title_zh="城市管理部件", title_en="Urban components",
        description_zh="按 GB/T 47678.5-2026 / CJ/T 214-2007 编码的管理部件（点、线、面）",
        description_en="Urban management components coded under GB/T 47678.5-2026 or CJ/T 214-2007",
        editable=True, versioned=True, tiles=True,
        columns=(
            Column("standard", enum_sql="SELECT standard FROM code_standard ORDER BY standard"),
            Column("type_code", enum_sql=COMPONENT_TYPE_ENUM, title="部件小类代码 type code"),
            Column("name", title="部件名称"),
            Column("dept_code"), Column("dept_name"),
            Column("owner_code"), Column("owner_name"),
            Column("maintainer_code"), Column("maintainer_name"),
            Column("unit_grid_code"),
            Column("status", enum_sql="SELECT status FROM component_status ORDER BY status", title="部件状态 status"),
            Column("initial_date", **DATE), Column("change_date", **DATE),
            Column("data_source", enum_sql="SELECT source FROM data_source ORDER BY source"),
            Column("note"),
            Column("street_code"), Column("street_name"),
            Column("community_code"), Column("community_name"),
            Column("extra", type="object"),
            Column("version", type=I), Column("updated_at", **TS), Column("updated_by"),
        ),
    ),
    Collection(
        id="unit-grids", table="unit_grid", key=("code",), geometry_type="multipolygon",
        title_zh="单元网格", title_en="Unit grids",
        description_zh="15 位编码的单元网格（区6+镇3+社区3+序号3）",
        description_en="Unit grids with 15-digit codes (district 6 + town 3 + community 3 + serial 3)",
        editable=True, versioned=True, tiles=True,
        columns=(
            Column("code"), Column("community_code", enum_sql="SELECT code FROM community ORDER BY code"),
            Column("name"), Column("land_use"),
            Column("valid_from", **DATE), Column("valid_to", **DATE), Column("note"),
            Column("area_m2", type=N), Column("version", type=I), Column("updated_at", **TS),
        ),
    ),
    Collection(
        id="responsibility-grids", table="responsibility_grid", key=("code",), geometry_type="multipolygon",
        title_zh="责任网格", title_en="Responsibility grids",
        description_zh="由若干单元网格组成、分配给一名网格员的责任网格（几何为成员单元网格之并）",
        description_en="Groups of unit grids assigned to one officer (geometry = union of member unit grids)",
        editable=True, versioned=True,
        columns=(
            Column("code"), Column("community_code", enum_sql="SELECT code FROM community ORDER BY code"),
            Column("name"), Column("officer_id", type=I),
            Column("unit_grid_codes", type="array", sql=(
                "ARRAY(SELECT m.unit_grid_code FROM responsibility_grid_member m "
                "WHERE m.responsibility_grid_code = t.code ORDER BY 1)")),
            Column("version", type=I), Column("updated_at", **TS),
        ),
    ),
    Collection(
        id="communities", table="community", key=("code",), geometry_type="multipolygon",
        title_zh="社区/村", title_en="Communities and villages",
        description_zh="镇内的社区与行政村", description_en="Communities and villages of the town",
        columns=(
            Column("code"), Column("town_code"), Column("name"),
            Column("kind", enum_sql="SELECT kind FROM community_kind ORDER BY kind"),
        ),
    ),
    Collection(
        id="town-boundary", table="town", key=("code",), geometry_type="multipolygon",
        title_zh="镇界", title_en="Town boundary",
        description_zh="仁和镇行政区界", description_en="Administrative boundary of the town",
        columns=(Column("code"), Column("name")),
    ),
    Collection(
        id="officer-positions", table="officer_position", key=("officer_id", "recorded_at"),
        geometry_type="point", time_column="recorded_at",
        id_sql="t.officer_id::text || '-' || (extract(epoch FROM t.recorded_at) * 1000000)::bigint::text",
        title_zh="网格员轨迹点", title_en="Officer positions",
        description_zh="网格员定位轨迹（按记录时间过滤：datetime）；要素编号 = 网格员编号-微秒时间戳",
        description_en="Officer GPS track points (datetime filters recorded_at); id = officer id-epoch microseconds",
        columns=(
            Column("officer_id", type=I), Column("recorded_at", **TS),
            Column("accuracy_m", type=N), Column("speed_mps", type=N),
        ),
    ),
    Collection(
        id="officer-latest", table="ogc_officer_latest", key=("officer_id",), id_type="integer",
        geometry_type="point", time_column="recorded_at",
        title_zh="网格员最新位置", title_en="Latest officer positions",
        description_zh="每名网格员最近一次定位", description_en="The last known position of each officer",
        columns=(
            Column("officer_id", type=I), Column("officer_code"), Column("officer_name"),
            Column("active", type=B), Column("recorded_at", **TS),
            Column("accuracy_m", type=N), Column("speed_mps", type=N),
        ),
    ),
    Collection(
        id="cases", table="ogc_cases", key=("id",), id_type="integer", geometry_type="point",
        time_column="reported_at", tiles=True,
        title_zh="案件（公开字段）", title_en="Cases (public fields)",
        description_zh="城市管理案件的公开字段；不含举报人身份信息",
        description_en="Urban management cases, public fields only; never the reporter's identity",
        columns=(
            Column("case_number"),
            Column("channel", enum_sql="SELECT code FROM case_channel ORDER BY code"),
            Column("category_kind", enum_sql="SELECT kind FROM code_catalog_kind WHERE kind <> 'component' ORDER BY kind"),
            Column("category_code", enum_sql=CASE_CATEGORY_ENUM),
            Column("urgency", enum_sql="SELECT code FROM case_urgency ORDER BY rank"),
            Column("state"), Column("is_closed", type=B), Column("address"),
            Column("unit_grid_code"), Column("community_code"), Column("department_code"),
            Column("reported_at", **TS), Column("deadline_at", **TS), Column("closed_at", **TS),
        ),
    ),
    Collection(
        id="pois", table="poi", key=("id",), id_type="integer", geometry_type="point",
        title_zh="兴趣点", title_en="Points of interest",
        description_zh="地名地址兴趣点（支持拼音检索）", description_en="Points of interest (searchable by pinyin)",
        editable=True, versioned=True, tiles=True,
        columns=(
            Column("name"), Column("alias", type="array"), Column("pinyin"), Column("pinyin_initials"),
            Column("category"), Column("address"),
            Column("community_code", enum_sql="SELECT code FROM community ORDER BY code"),
            Column("version", type=I), Column("updated_at", **TS),
        ),
    ),
)}


def get_collection(collection_id: str) -> Collection | None:
    return COLLECTIONS.get(collection_id)
