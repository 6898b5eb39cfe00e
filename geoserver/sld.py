"""SLD styles for GeoServer, generated from the web map's palette (web/src/map/layers/palette.json).

The palette is the one source of the map's colours: the layer modules in web/src/map/layers/ read it
for MapLibre and `style_for()` turns the same entry into an SLD 1.0 document, so a colour changed
there changes both. Per kind of layer:

- point: a circle (diameter 2 × radius) with a white outline; coloured by `property` when the entry
  lists classes (one rule per class, an ElseFilter rule for every other value — closed cases have no
  `sla_color` and come out grey, as on the map); `tableProperty` + `prefix` when the tiles derive the
  property (component `major` = the first two digits of `type_code`); `problem` adds a red ring to
  features whose `problem.property` is not `problem.ok` (non-intact components);
- line: stroke colour, width, opacity and dashes (MapLibre counts dashes in line widths; SLD in pixels);
- polygon: fill with its opacity and an outline.

Text is escaped; the output is deterministic so a second publish can compare it with what GeoServer holds.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from civicgrid.settings import REPO_ROOT

PALETTE_PATH = REPO_ROOT / "web" / "src" / "map" / "layers" / "palette.json"

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" '
          'xmlns:ogc="http://www.opengis.net/ogc" xmlns:xlink="http://www.w3.org/1999/xlink" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/sld '
          'http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd">\n')


@lru_cache(maxsize=4)
def palette(path: Path = PALETTE_PATH) -> dict:
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("$")}


def entry(collection_id: str) -> dict:
    """The palette entry of a collection (the `default` one when the map has no own colours for it)."""
    colours = palette()
    return colours.get(collection_id, colours["default"])


def _param(name: str, value) -> str:
    if isinstance(value, float):
        value = f"{value:g}"
    return f'<CssParameter name="{name}">{escape(str(value))}</CssParameter>'


def _stroke(colour: str, width, opacity=None, dash=None) -> str:
    parts = [_param("stroke", colour), _param("stroke-width", float(width))]
    if opacity is not None:
        parts.append(_param("stroke-opacity", float(opacity)))
    if dash:
        parts.append(_param("stroke-dasharray", " ".join(f"{float(d) * float(width):g}" for d in dash)))
    return "<Stroke>" + "".join(parts) + "</Stroke>"


def _circle(fill: str | None, radius, stroke: str | None, stroke_width) -> str:
    fill_xml = f"<Fill>{_param('fill', fill)}</Fill>" if fill else ""
    stroke_xml = _stroke(stroke, stroke_width) if stroke else ""
    return (f"<PointSymbolizer><Graphic><Mark><WellKnownName>circle</WellKnownName>{fill_xml}{stroke_xml}</Mark>"
            f"<Size>{float(radius) * 2:g}</Size></Graphic></PointSymbolizer>")


def _equals(prop: str, value: str, prefix: bool) -> str:
    name = f"<ogc:PropertyName>{escape(prop)}</ogc:PropertyName>"
    if prefix:
        return (f'<ogc:Filter><ogc:PropertyIsLike wildCard="*" singleChar="." escape="!">{name}'
                f"<ogc:Literal>{escape(value)}*</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>")
    return f"<ogc:Filter><ogc:PropertyIsEqualTo>{name}<ogc:Literal>{escape(value)}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"


def _rule(name: str, title: str, body: str) -> str:
    return f"<Rule><Name>{escape(name)}</Name><Title>{escape(title)}</Title>{body}</Rule>"


def _point_rules(p: dict) -> list[str]:
    radius, stroke, width = p.get("radius", 4), p.get("stroke", "#ffffff"), p.get("strokeWidth", 1)
    if not p.get("classes"):
        return [_rule("all", p.get("label", ""), _circle(p["fill"], radius, stroke, width))]
    prop = p.get("tableProperty", p["property"])
    rules = [_rule(c["value"], c["label"], _equals(prop, c["value"], bool(p.get("prefix")))
                   + _circle(c["fill"], radius, stroke, width)) for c in p["classes"]]
    rules.append(_rule("other", p.get("label", ""), "<ElseFilter/>" + _circle(p["fill"], radius, stroke, width)))
    return rules


def _problem_rule(problem: dict, radius) -> str:
    name = f"<ogc:PropertyName>{escape(problem['property'])}</ogc:PropertyName>"
    flt = (f"<ogc:Filter><ogc:PropertyIsNotEqualTo>{name}<ogc:Literal>{escape(problem['ok'])}</ogc:Literal>"
           "</ogc:PropertyIsNotEqualTo></ogc:Filter>")
    return _rule("problem", problem.get("label", ""), flt + _circle(None, radius, problem["stroke"], problem["strokeWidth"]))


def _rules(p: dict) -> list[list[str]]:
    """The rules of each FeatureTypeStyle (drawn in order)."""
    kind = p["kind"]
    if kind == "point":
        styles = [_point_rules(p)]
        if p.get("problem"):
            styles.append([_problem_rule(p["problem"], p.get("radius", 4))])
        return styles
    if kind == "line":
        return [[_rule("line", p.get("label", ""), "<LineSymbolizer>" + _stroke(
            p["stroke"], p.get("strokeWidth", 1), p.get("strokeOpacity"), p.get("dash")) + "</LineSymbolizer>")]]
    fill = f"<Fill>{_param('fill', p['fill'])}{_param('fill-opacity', float(p.get('fillOpacity', 1)))}</Fill>"
    outline = _stroke(p.get("stroke", p["fill"]), p.get("strokeWidth", 1), p.get("strokeOpacity"))
    return [[_rule("area", p.get("label", ""), f"<PolygonSymbolizer>{fill}{outline}</PolygonSymbolizer>")]]


def style_for(collection_id: str, layer_name: str, title: str) -> str:
    """The SLD document of one published layer."""
    styles = "".join("<FeatureTypeStyle>" + "".join(rules) + "</FeatureTypeStyle>" for rules in _rules(entry(collection_id)))
    return (HEADER + f"<NamedLayer><Name>{escape(layer_name)}</Name><UserStyle><Name>{escape(layer_name)}</Name>"
            f"<Title>{escape(title)}</Title>{styles}</UserStyle></NamedLayer>\n</StyledLayerDescriptor>\n")


def same_sld(a: str | bytes, b: str | bytes) -> bool:
    """Equal as XML (whitespace between elements and attribute quoting do not count)."""
    from xml.etree.ElementTree import canonicalize

    def canon(text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.lstrip("\ufeff")
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[1]
        try:
            return canonicalize(text, strip_text=True)
        except Exception:     # not XML at all: it differs
            return None
    ca = canon(a)
    return ca is not None and ca == canon(b)


__all__ = ["palette", "entry", "style_for", "same_sld"]
