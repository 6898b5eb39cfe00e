DROP INDEX IF EXISTS component_dimension_id_idx;
DROP INDEX IF EXISTS component_polygons_geom_idx;
DROP INDEX IF EXISTS component_lines_geom_idx;
DROP INDEX IF EXISTS component_points_geom_idx;
DROP VIEW IF EXISTS ogc_component_polygons;
DROP VIEW IF EXISTS ogc_component_lines;
DROP VIEW IF EXISTS ogc_component_points;
