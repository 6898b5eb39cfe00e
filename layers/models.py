"""The properties an editor may send for each editable collection (OGC API Features Part 4), as
pydantic models with the codes' patterns and bounds. The registry (collections.py) names the model
of each editable collection; edit.py validates with it."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CODE = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
CommunityCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]      # 社区编码, 12 digits
UnitGridCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{15}$")]       # 单元网格编码, 15 digits


class Props(BaseModel):
    """Unknown properties are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ComponentProps(Props):
    """管理部件: the 18 standard attributes (GB/T 47678.5-2026) plus local extras."""

    id: str | None = Field(None, pattern=r"^[0-9]{16,17}$")
    standard: str = "GB/T 47678.5-2026"
    type_code: str = Field(pattern=r"^[0-9]{4,5}$")
    name: str = Field(min_length=1, max_length=30)
    dept_code: str = Field(pattern=CODE)
    dept_name: str = Field(min_length=1, max_length=100)
    owner_code: str | None = Field(None, pattern=CODE)
    owner_name: str | None = Field(None, max_length=100)
    maintainer_code: str | None = Field(None, pattern=CODE)
    maintainer_name: str | None = Field(None, max_length=100)
    unit_grid_code: UnitGridCode
    status: str = "完好"
    initial_date: date
    change_date: date | None = None
    data_source: str | None = None
    note: str | None = Field(None, max_length=1000)
    street_code: str | None = Field(None, pattern=r"^[0-9]{9}$")
    street_name: str | None = None
    community_code: CommunityCode | None = None
    community_name: str | None = None
    extra: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self):
        if self.change_date and self.change_date < self.initial_date:
            raise ValueError("change_date is before initial_date")
        if self.id and self.id[6:6 + len(self.type_code)] != self.type_code:
            raise ValueError(f"id {self.id} does not contain its class code {self.type_code} at position 7")
        if self.community_code and self.unit_grid_code[:12] != self.community_code:
            raise ValueError("unit_grid_code does not lie in community_code")
        return self


class UnitGridProps(Props):
    """单元网格."""

    code: UnitGridCode | None = None
    community_code: CommunityCode | None = None
    name: str | None = Field(None, max_length=100)
    land_use: str | None = Field(None, max_length=50)
    valid_from: date | None = None
    valid_to: date | None = None
    note: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self):
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class ResponsibilityGridProps(Props):
    """责任网格: its geometry is the union of `unit_grid_codes`."""

    code: str | None = Field(None, pattern=r"^[0-9]{12}Z[0-9]{2}$")
    community_code: CommunityCode | None = None
    name: str = Field(min_length=1, max_length=100)
    officer_id: int | None = Field(None, ge=1)
    unit_grid_codes: list[str] | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _codes(self):
        for code in self.unit_grid_codes or []:
            if not re.fullmatch(r"[0-9]{15}", code):
                raise ValueError(f"unit_grid_codes: '{code}' is not a 15-digit unit grid code")
        return self


class PoiProps(Props):
    """兴趣点."""

    name: str = Field(min_length=1, max_length=100)
    alias: list[str] = Field(default_factory=list, max_length=20)
    pinyin: str | None = Field(None, max_length=200)
    pinyin_initials: str | None = Field(None, max_length=50)
    category: str = Field(min_length=1, max_length=50)
    address: str | None = Field(None, max_length=200)
    community_code: CommunityCode | None = None


class AnnotationStyle(Props):
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$")
    width: float | None = Field(None, ge=0, le=50)
    fill_opacity: float | None = Field(None, ge=0, le=1)
    font_size: float | None = Field(None, ge=6, le=96)


# the geometry each kind of shape is drawn as (a circle: its centre and radius_m, or a polygon)
ANNOTATION_GEOMETRY = {"point": ("Point",), "text": ("Point",), "line": ("LineString",), "arrow": ("LineString",),
                       "polygon": ("Polygon", "MultiPolygon"), "rectangle": ("Polygon",), "circle": ("Point", "Polygon")}


class AnnotationProps(Props):
    """标绘图形: a shape of a plan (标绘方案); who sees it is the plan's visibility."""

    plan_id: int = Field(ge=1)
    kind: Literal["point", "line", "polygon", "rectangle", "circle", "arrow", "text"]
    label: str | None = Field(None, max_length=200)
    style: AnnotationStyle = Field(default_factory=AnnotationStyle)
    radius_m: float | None = Field(None, gt=0, le=50000)

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "text" and not self.label:
            raise ValueError("a text shape needs its label")
        if self.radius_m is not None and self.kind != "circle":
            raise ValueError("radius_m belongs to circles only")
        return self

    def geometry_types(self) -> tuple[str, ...]:
        return ANNOTATION_GEOMETRY[self.kind]
