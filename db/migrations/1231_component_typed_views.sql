-- OGC API publication (layers/collections.py): urban components split by geometry kind, so that
-- clients that give a layer one geometry type (QGIS, GDAL → GeoPackage) get point, line and
-- polygon layers (点状部件 / 线状部件 / 面状部件) instead of one layer typed by its first feature.
-- Each view holds the components of one dimension, their geometry always the multi type
-- (MultiPoint, MultiLineString, MultiPolygon: a component may be either form in `component`, a
-- layer may only be one). The mixed collection `urban-components` (editing, tiles, the web map)
-- reads the table itself.
-- depends: 0400_ogc_views

CREATE VIEW ogc_component_points AS
SELECT c.id, c.standard, c.type_code, c.name, c.dept_code, c.dept_name, c.owner_code, c.owner_name,
       c.maintainer_code, c.maintainer_name, c.unit_grid_code, c.status, c.initial_date, c.change_date,
       c.data_source, c.note, c.street_code, c.street_name, c.community_code, c.community_name, c.extra,
       c.version, c.updated_at, c.updated_by, ST_Multi(c.geom) AS geom
FROM component c WHERE ST_Dimension(c.geom) = 0;

CREATE VIEW ogc_component_lines AS
SELECT c.id, c.standard, c.type_code, c.name, c.dept_code, c.dept_name, c.owner_code, c.owner_name,
       c.maintainer_code, c.maintainer_name, c.unit_grid_code, c.status, c.initial_date, c.change_date,
       c.data_source, c.note, c.street_code, c.street_name, c.community_code, c.community_name, c.extra,
       c.version, c.updated_at, c.updated_by, ST_Multi(c.geom) AS geom
FROM component c WHERE ST_Dimension(c.geom) = 1;

CREATE VIEW ogc_component_polygons AS
SELECT c.id, c.standard, c.type_code, c.name, c.dept_code, c.dept_name, c.owner_code, c.owner_name,
       c.maintainer_code, c.maintainer_name, c.unit_grid_code, c.status, c.initial_date, c.change_date,
       c.data_source, c.note, c.street_code, c.street_name, c.community_code, c.community_name, c.extra,
       c.version, c.updated_at, c.updated_by, ST_Multi(c.geom) AS geom
FROM component c WHERE ST_Dimension(c.geom) = 2;

-- bbox and spatial filters on the views test ST_Multi(geom): one partial index per view, so a
-- map window reads an index range as on the table; and the key order of each view's pages
CREATE INDEX component_points_geom_idx ON component USING gist (ST_Multi(geom)) WHERE ST_Dimension(geom) = 0;
CREATE INDEX component_lines_geom_idx ON component USING gist (ST_Multi(geom)) WHERE ST_Dimension(geom) = 1;
CREATE INDEX component_polygons_geom_idx ON component USING gist (ST_Multi(geom)) WHERE ST_Dimension(geom) = 2;
CREATE INDEX component_dimension_id_idx ON component (ST_Dimension(geom), id);
