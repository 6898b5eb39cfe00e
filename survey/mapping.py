"""The YAML field mapping a GIS editor writes for one surveyor's delivery.

    crs: EPSG:4527            # optional, like --crs
    layer: 部件                # optional, the layer to read from a GeoPackage/DXF
    encoding: gb18030         # optional, for CSV
    x: Y坐标                   # optional, CSV coordinate columns (else lon/lat, x/y, 经度/纬度 …)
    y: X坐标
    columns:                  # target (abbreviation, Chinese field name, or LXDM = class code): source column(s)
      GLBJBSM: ObjID
      管理部件名称: [名称, MC]
      LXDM: 小类
    defaults:                 # constant values for attributes the file lacks
      ZGBMDM: 11110113MB0000000X
      CSRQ: 20260901

Columns that map to nothing are kept per row in `extra` (local extension attributes).
"""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from civicgrid.errors import InvalidInput
from civicgrid.inputs import parse_model

CLASS_TARGETS = {"LXDM", "类别代码", "CLASS", "TYPE_CODE"}


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crs: str | None = Field(default=None, max_length=20)
    layer: str | None = Field(default=None, max_length=200)
    encoding: str | None = Field(default=None, max_length=30)
    x: str | None = Field(default=None, max_length=100)
    y: str | None = Field(default=None, max_length=100)
    wkt: str | None = Field(default=None, max_length=100)
    columns: dict[str, str | list[str]] = Field(default_factory=dict)
    defaults: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _non_empty(cls, value):
        for target, sources in value.items():
            if isinstance(sources, list) and not sources:
                raise ValueError(f"{target}: give at least one source column")
        return value

    def _target(self, key: str, by_abbr: dict[str, str], by_name: dict[str, str], where: str) -> str:
        k = key.strip()
        if k.upper() in CLASS_TARGETS or k in CLASS_TARGETS:
            return "LXDM"
        if k.upper() in by_abbr:
            return by_abbr[k.upper()]
        if k in by_name:
            return by_name[k]
        raise InvalidInput(f"mapping {where}: {key!r} is neither an attribute abbreviation (GLBJBSM …), "
                           "a standard field name (管理部件名称 …) nor LXDM", field=f"mapping.{where}")

    def resolved_columns(self, by_abbr: dict[str, str], by_name: dict[str, str]) -> dict[str, list[str]]:
        out = {}
        for key, sources in self.columns.items():
            out[self._target(key, by_abbr, by_name, "columns")] = [sources] if isinstance(sources, str) else sources
        return out

    def resolved_defaults(self, by_abbr: dict[str, str], by_name: dict[str, str]) -> dict[str, str]:
        return {self._target(k, by_abbr, by_name, "defaults"): str(v).strip()
                for k, v in self.defaults.items() if str(v).strip()}


def load_mapping(source: str | Path | dict | None) -> Mapping:
    """A Mapping from a YAML file (a Path: the shell's), YAML text (a str: a client's, never read as
    a path) or a dict; bad input → InvalidInput naming the key."""
    from civicgrid.inputs import load_yaml

    if source is None:
        return Mapping()
    if isinstance(source, Path):
        if not source.is_file():
            raise InvalidInput(f"mapping file not found: {source.name}", field="mapping")
        source = source.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            source = load_yaml(source, "mapping") or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"mapping is not valid YAML: {exc}", field="mapping") from exc
    if not isinstance(source, dict):
        raise InvalidInput("mapping must be a YAML mapping (key: value)", field="mapping")
    return parse_model(Mapping, source, prefix="mapping.")
