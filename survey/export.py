"""Export the live component layer to GeoPackage, zipped Shapefile, GeoJSON or CSV, in a chosen CRS
(EPSG:4490, 4326, 4548, 4527) and under either standard's codes. Codes are translated through
catalog_mapping (CJ/T 214 ↔ GB/T 47678.5, one to one only); a component whose class has no
counterpart is left out and counted in the result, never given a guessed code.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pydantic import BaseModel, Field

from civicgrid.db import connect, load_sql
from civicgrid.errors import InvalidInput
from civicgrid.survey.reader import parse_crs
from civicgrid.survey.service import standard_of

FORMATS = {"gpkg": "GPKG", "shp": "ESRI Shapefile", "geojson": "GeoJSON", "csv": "CSV"}
COLUMNS = {  # component column → attribute abbreviation (Shapefile field names ≤ 10 characters)
    "name": "GLBJMC", "dept_code": "ZGBMDM", "dept_name": "ZGBMMC", "owner_code": "QSDWDM",
    "owner_name": "QSDWMC", "maintainer_code": "YHDWDM", "maintainer_name": "YHDWMC",
    "unit_grid_code": "SZDYWGBSM", "status": "GLBJZT", "initial_date": "CSRQ", "change_date": "BGRQ",
    "data_source": "SJLY", "note": "BZ", "street_code": "SZJDDM", "street_name": "SZJDMC",
    "community_code": "SZSQDM", "community_name": "SZSQMC",
}


class ExportParams(BaseModel):
    format: str = Field(default="gpkg", pattern="^(gpkg|shp|geojson|csv)$")
    crs: str = Field(default="EPSG:4490", max_length=20)
    standard: str = Field(default="gbt47678", max_length=30)
    type_code: str | None = Field(default=None, pattern="^[0-9]{4,5}$")


def export_layer(out: str | Path, params: ExportParams, *, url: str | None = None) -> dict:
    out = Path(out)
    epsg = parse_crs(params.crs)
    with connect(url) as conn:
        target = standard_of(conn, params.standard)
        rows = conn.execute(load_sql("civicgrid.survey", "export.sql"),
                            {"target": target, "class": params.type_code}).fetchall()
    frame = pd.DataFrame(rows, columns=["id", "standard", "type_code", "target_code", *COLUMNS, "wkb"])
    unmapped = frame[frame["target_code"].isna()]
    kept = frame[frame["target_code"].notna()].copy()
    # an ID is district (6) + class + serial (6): only the class part changes between the standards
    kept["GLBJBSM"] = kept["id"].str[:6] + kept["target_code"] + kept["id"].str[-6:]
    kept["LXDM"] = kept["target_code"]
    kept = kept.rename(columns=COLUMNS)
    attrs = ["GLBJBSM", "LXDM", *COLUMNS.values()]
    geoms = shapely.from_wkb(kept["wkb"].map(bytes).to_numpy()) if len(kept) else []
    gdf = gpd.GeoDataFrame(kept[attrs].reset_index(drop=True), geometry=list(geoms), crs=4490)
    if epsg != 4490:
        gdf = gdf.to_crs(epsg)
    out.parent.mkdir(parents=True, exist_ok=True)
    if params.format == "csv":
        plain = pd.DataFrame(gdf.drop(columns="geometry"))
        points = gdf.geometry.geom_type == "Point"
        xy = ("lon", "lat") if epsg in (4490, 4326) else ("x_easting", "y_northing")
        plain[xy[0]] = gdf.geometry.x.where(points)
        plain[xy[1]] = gdf.geometry.y.where(points)
        plain["wkt"] = shapely.to_wkt(gdf.geometry.to_numpy(), rounding_precision=9 if epsg in (4490, 4326) else 4)
        plain.to_csv(out, index=False, encoding="utf-8-sig", float_format="%.12g")
    elif params.format == "shp":
        if out.suffix.lower() != ".zip":
            raise InvalidInput("a Shapefile export is written as a .zip (name the output *.zip)", field="out")
        with tempfile.TemporaryDirectory() as tmp:
            # one Shapefile per geometry type: a .shp holds a single type
            for kind, part in gdf.groupby(gdf.geometry.geom_type.str.replace("Multi", "")):
                pyogrio.write_dataframe(part, Path(tmp) / f"component_{kind.lower()}.shp", encoding="UTF-8")
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(Path(tmp).iterdir()):
                    zf.write(f, f.name)
    else:
        if out.exists():
            out.unlink()
        pyogrio.write_dataframe(gdf, out, layer="component", driver=FORMATS[params.format])
    counts = unmapped.groupby(["standard", "type_code"]).size()
    return {"path": str(out), "format": params.format, "crs": f"EPSG:{epsg}", "standard": target,
            "exported": len(gdf),
            "unmapped": [{"standard": s, "type_code": c, "components": int(n)} for (s, c), n in counts.items()]}
