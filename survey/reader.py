"""Read a surveyor's file (GeoPackage, zipped Shapefile, GeoJSON, CSV with coordinates, DXF) into
rows of the 18 standard attributes (keyed by abbreviation) plus a CGCS2000 (EPSG:4490) geometry.

Coordinate systems: EPSG:4490 / 4326 lon/lat, EPSG:4548 (CGCS2000 3° Gauss-Krüger CM 117°E, false
easting 500 000) and EPSG:4527 — the same projection with the zone number 39 written in front of the
easting (false easting 39 500 000), so eastings have 8 digits (~39 4xx xxx). A file that says 4548
but carries 8-digit eastings is read as 4527 (and the other way round); surveyors' X/Y columns often
follow the Chinese convention X = northing, which is recognised by magnitude and swapped.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from civicgrid.errors import InvalidInput
from civicgrid.survey.mapping import Mapping

FORMATS = {".gpkg": "GPKG", ".zip": "ESRI Shapefile (zip)", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON",
           ".json": "GeoJSON", ".csv": "CSV", ".dxf": "DXF"}
ACCEPTED_EPSG = {4490, 4326, 4548, 4527}
CLASS_KEY = "LXDM"  # the class (type) code column; not one of the 18 attributes, but needed when the ID is empty

# Column names surveyors use for the same attribute (seen in delivered data and sync interfaces).
ALIASES = {
    "OBJID": "GLBJBSM", "BJBM": "GLBJBSM", "BSM": "GLBJBSM", "ID": "GLBJBSM",
    "DEPTCODE": "ZGBMDM", "BGID": "SZDYWGBSM",
    "BJLX": "LXDM", "LXDM": "LXDM", "BJDM": "LXDM", "XLDM": "LXDM", "TYPE_CODE": "LXDM",
    "类别代码": "LXDM", "部件类别": "LXDM", "小类代码": "LXDM", "部件类型": "LXDM",
    "LAYER": "LXDM",  # DXF: one layer per class
}
X_NAMES = ("lon", "lng", "longitude", "经度", "x", "东坐标", "easting")
Y_NAMES = ("lat", "latitude", "纬度", "y", "北坐标", "northing")
DXF_INTERNAL = {"SubClasses", "EntityHandle", "Linetype", "Text", "RawCodeValues", "ExtendedEntity",
                "Layer"}


@dataclass
class Attribute:
    abbreviation: str
    field_name: str


@dataclass
class ReadResult:
    file_format: str
    source_crs: str
    crs_note: str | None
    sha256: str
    # (row_no, attrs JSON, extra JSON, EWKB hex, geom_error); JSON null = empty cell
    rows: list[tuple[int, str, str, str | None, str | None]]
    columns: dict[str, str] = field(default_factory=dict)        # surveyor column → abbreviation


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_crs(text: str | None, field_name: str = "crs") -> int | None:
    if text is None or str(text).strip() == "":
        return None
    match = re.fullmatch(r"(?:EPSG:)?(\d{4,5})", str(text).strip(), re.IGNORECASE)
    if not match or int(match.group(1)) not in ACCEPTED_EPSG:
        raise InvalidInput(f"unsupported CRS {text!r}: use one of "
                           + ", ".join(f"EPSG:{c}" for c in sorted(ACCEPTED_EPSG)), field=field_name)
    return int(match.group(1))


# ---------------------------------------------------------------- CRS decision

def _decide_crs(declared: int | None, xs: np.ndarray, ys: np.ndarray) -> tuple[int, bool, str | None]:  # noqa: C901 — the CRS decision table of survey files (declared, guessed, refused)
    """(EPSG, swap x/y, note) from the declared CRS and the coordinate magnitudes."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        return declared or 4490, False, None
    x, y = np.median(np.abs(xs[finite])), np.median(np.abs(ys[finite]))
    if x <= 180 and y <= 90:
        if declared in (4548, 4527):
            raise InvalidInput(f"coordinates look like longitude/latitude (≈{x:.4f}, {y:.4f}) "
                               f"but EPSG:{declared} (metres) was given", field="crs")
        return declared or 4490, False, None if declared else "coordinates are longitude/latitude: read as EPSG:4490"
    if y <= 180 and x <= 90:
        return declared or 4490, True, "columns hold latitude, longitude: swapped to longitude, latitude"
    if declared in (4490, 4326):
        raise InvalidInput(f"coordinates look projected (≈{x:,.0f}, {y:,.0f} m) but EPSG:{declared} "
                           "(degrees) was given", field="crs")

    def role(v: float) -> str:
        if 1e7 <= v < 1e8:
            return "zoned_easting"
        if 1e5 <= v < 1e6:
            return "easting"
        if 1e6 <= v < 1e7:
            return "northing"
        return "unknown"

    rx, ry = role(x), role(y)
    notes = []
    swap = False
    if ry in ("easting", "zoned_easting") and rx == "northing":
        swap, rx, ry = True, ry, rx
        notes.append("X holds the northing and Y the easting (surveying convention): swapped")
    if ry != "northing" or rx not in ("easting", "zoned_easting"):
        raise InvalidInput(f"cannot tell easting from northing in coordinates ≈({x:,.0f}, {y:,.0f})", field="crs")
    east = y if swap else x
    if rx == "zoned_easting":
        zone = int(east // 1e6)
        if zone != 39:
            raise InvalidInput(f"eastings carry zone prefix {zone}; only 3° zone 39 (CM 117°E, EPSG:4527) "
                               "covers the town", field="crs")
        if declared != 4527:
            notes.append(f"8-digit eastings (≈{east:,.0f}) carry the 3° zone number 39: read as EPSG:4527 "
                         f"(= EPSG:4548 with 39 000 000 added to the easting)"
                         + (f" instead of the declared EPSG:{declared}" if declared else ""))
        return 4527, swap, "; ".join(notes) or None
    if declared == 4527:
        notes.append(f"6-digit eastings (≈{east:,.0f}) have no zone prefix: read as EPSG:4548 "
                     "instead of the declared EPSG:4527")
    elif declared is None:
        notes.append("projected coordinates without a CRS: read as EPSG:4548 (CGCS2000 3° GK CM 117°E)")
    return 4548, swap, "; ".join(notes) or None


def _to_4490(geoms: np.ndarray, epsg: int, swap: bool) -> np.ndarray:
    if swap:
        geoms = shapely.transform(geoms, lambda c: c[:, ::-1])
    if epsg != 4490:
        tr = Transformer.from_crs(CRS.from_epsg(epsg), CRS.from_epsg(4490), always_xy=True)
        geoms = shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return geoms


# ---------------------------------------------------------------- values

def _text(value) -> str | None:
    """A cell as the text a surveyor meant, or None when empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    if isinstance(value, (np.integer,)):
        return str(int(value))
    if isinstance(value, np.floating):
        return _text(float(value))
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return None if pd.isna(value) else value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def _json_lines(frame: pd.DataFrame, n: int) -> list[str]:
    """One JSON object per row, built by pandas in one go (per-row json.dumps is the slow part at 100k)."""
    if frame.shape[1] == 0:
        return ["{}"] * n
    return frame.to_json(orient="records", lines=True, force_ascii=False).splitlines()


def _column_map(columns: list[str], attributes: list[Attribute], mapping: Mapping) -> dict[str, str]:
    """surveyor column → abbreviation (or LXDM)."""
    by_abbr = {a.abbreviation.upper(): a.abbreviation for a in attributes}
    by_name = {a.field_name: a.abbreviation for a in attributes}
    result: dict[str, str] = {}
    explicit = mapping.resolved_columns(by_abbr, by_name)
    lower = {c.lower(): c for c in columns}
    for target, sources in explicit.items():
        found = [lower[s.lower()] for s in sources if s.lower() in lower]
        if not found:
            raise InvalidInput(f"mapping for {target}: none of the columns {sources} is in the file "
                               f"(columns: {', '.join(columns)})", field="mapping")
        result[found[0]] = target
    taken = set(result.values())
    for col in columns:
        if col in result:
            continue
        key = col.strip().upper()
        target = by_abbr.get(key) or by_name.get(col.strip()) or ALIASES.get(key) or ALIASES.get(col.strip())
        if target and target not in taken:
            result[col] = target
            taken.add(target)
    return result


# ---------------------------------------------------------------- readers

SHAPEFILE_PARTS = (".shx", ".dbf")   # beside every .shp (.prj and .cpg are optional)


def check_shapefile_zip(path: Path) -> None:
    """Every .shp in the zip has its .shx and .dbf: a 400 naming the missing file (GDAL's own
    message names the server's temporary path instead)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile:
        raise InvalidInput(f"{path.name} is not a zip archive", field="file") from None
    lower = {n.lower() for n in names}
    shps = [n for n in names if n.lower().endswith(".shp")]
    if not shps:
        raise InvalidInput(f"{path.name} holds no .shp file", field="file")
    for shp in shps:
        stem = shp[:-4]
        for ext in SHAPEFILE_PARTS:
            if (stem + ext).lower() not in lower:
                raise InvalidInput(f"{path.name}: {Path(shp).name} has no {Path(stem).name}{ext} beside it "
                                   f"(a Shapefile needs .shp, .shx and .dbf)", field="file")


def _read_vector(path: Path, layer: str | None):
    target = str(path)
    if path.suffix.lower() == ".zip":
        check_shapefile_zip(path)
        target = f"/vsizip/{path}"
    try:
        layers = pyogrio.list_layers(target)
        frame = pyogrio.read_dataframe(target, layer=layer or (layers[0][0] if len(layers) else None))
    except Exception as exc:  # GDAL's messages are the clearest we have, less the server's paths
        message = str(exc).replace(target, path.name).replace(str(path.parent) + "/", "")
        raise InvalidInput(f"cannot read {path.name}: {message}", field="file") from exc
    return frame


def _find(columns: list[str], wanted: str | None, names: tuple[str, ...]) -> str | None:
    if wanted:
        for c in columns:
            if c.lower() == wanted.lower():
                return c
        raise InvalidInput(f"coordinate column {wanted!r} is not in the file", field="mapping")
    for n in names:
        for c in columns:
            if c.strip().lower() == n:
                return c
    return None


def _read_csv(path: Path, mapping: Mapping) -> tuple[pd.DataFrame, np.ndarray, list[str | None]]:
    raw = path.read_bytes()
    for encoding in ([mapping.encoding] if mapping.encoding else ["utf-8-sig", "gb18030"]):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(f"{path.name} is neither UTF-8 nor GB18030 text: set encoding in the mapping",
                           field="file")
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path.name} is not a readable CSV table: {exc}", field="file") from exc
    cols = list(frame.columns)
    wkt_col = _find(cols, mapping.wkt, ("wkt", "geometry", "geom"))
    errors: list[str | None] = [None] * len(frame)
    if wkt_col and not (mapping.x or mapping.y):
        geoms = np.empty(len(frame), dtype=object)
        for i, w in enumerate(frame[wkt_col]):
            try:
                geoms[i] = shapely.from_wkt(w) if w.strip() else None
            except shapely.errors.GEOSException:
                geoms[i], errors[i] = None, f"无法解析的 WKT “{w[:40]}”"
            if geoms[i] is None and errors[i] is None:
                errors[i] = "坐标为空"
        return frame.drop(columns=[wkt_col]), geoms, errors
    xc, yc = _find(cols, mapping.x, X_NAMES), _find(cols, mapping.y, Y_NAMES)
    if not xc or not yc:
        raise InvalidInput(f"{path.name}: no coordinate columns found (looked for lon/lat, x/y, 经度/纬度, wkt); "
                           "name them with x:/y: in the mapping", field="file")
    xs = pd.to_numeric(frame[xc].str.replace(",", "", regex=False), errors="coerce").to_numpy(float)
    ys = pd.to_numeric(frame[yc].str.replace(",", "", regex=False), errors="coerce").to_numpy(float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(xs[ok], ys[ok])
    for i in np.flatnonzero(~ok):
        errors[i] = f"坐标无法识别（{xc}=“{frame[xc].iat[i]}”，{yc}=“{frame[yc].iat[i]}”）"
    return frame.drop(columns=[xc, yc]), geoms, errors


def read_survey_file(path: Path, attributes: list[Attribute], *, crs: str | None = None,
                     mapping: Mapping | None = None, layer: str | None = None) -> ReadResult:
    path = Path(path)
    mapping = mapping or Mapping()
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"unsupported file type {suffix or path.name!r}: use .gpkg, .zip (Shapefile), "
                           ".geojson, .csv or .dxf", field="file")
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="file")
    declared = parse_crs(crs) or parse_crs(mapping.crs, "mapping.crs")

    if suffix == ".csv":
        frame, geoms, errors = _read_csv(path, mapping)
    else:
        gdf = _read_vector(path, layer or mapping.layer)
        if declared is None and gdf.crs is not None:
            epsg = gdf.crs.to_epsg()
            if epsg is None or epsg not in ACCEPTED_EPSG:
                raise InvalidInput(f"{path.name} is in {gdf.crs.name} (EPSG:{epsg}); accepted: "
                                   + ", ".join(f"EPSG:{c}" for c in sorted(ACCEPTED_EPSG))
                                   + " — or give --crs", field="crs")
            declared = epsg
        geoms = gdf.geometry.to_numpy() if gdf.geometry is not None else np.full(len(gdf), None)
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        if suffix == ".dxf":
            frame = frame[[c for c in frame.columns if c == "Layer" or c not in DXF_INTERNAL]]
        errors = [None if g is not None else "缺少几何" for g in geoms]
        geoms = np.asarray(geoms, dtype=object)
        geoms = np.where(pd.isna(geoms), None, geoms)

    valid = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    present = geoms[valid].astype(object)
    if len(present):
        coords = shapely.get_coordinates(present.astype(object))
        epsg, swap, note = _decide_crs(declared, coords[:, 0], coords[:, 1])
    else:
        epsg, swap, note = declared or 4490, False, None
    out = np.full(len(geoms), None, dtype=object)
    if len(present):
        moved = _to_4490(present, epsg, swap)
        moved = shapely.force_2d(moved)
        moved = shapely.set_srid(moved, 4490)
        out[valid] = shapely.to_wkb(moved, hex=True, include_srid=True)
    for i in np.flatnonzero(~valid):
        errors[i] = errors[i] or "几何为空"

    columns = _column_map([str(c) for c in frame.columns], attributes, mapping)
    defaults = mapping.resolved_defaults({a.abbreviation.upper(): a.abbreviation for a in attributes},
                                         {a.field_name: a.abbreviation for a in attributes})
    frame.columns = [str(c) for c in frame.columns]
    text = frame.astype(object).map(_text) if len(frame.columns) else frame
    mapped = [c for c in frame.columns if c in columns]
    attrs = text[mapped].rename(columns=columns)
    for key, value in defaults.items():  # constants for what the file lacks (or left empty)
        attrs[key] = attrs[key].fillna(value) if key in attrs else value
    extra = text[[c for c in frame.columns if c not in columns]]
    attrs_json = _json_lines(attrs, len(frame))
    extra_json = _json_lines(extra, len(frame))
    rows = list(zip(range(1, len(frame) + 1), attrs_json, extra_json, out, errors))
    return ReadResult(file_format=FORMATS[suffix], source_crs=f"EPSG:{epsg}", crs_note=note,
                      sha256=file_sha256(path), rows=rows, columns=columns)
