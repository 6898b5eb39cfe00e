-- Report queries; each "-- step:" block is one named query. %(batch)s where a batch is concerned.

-- step: changes
-- new / moved (> 0.5 m) / attribute-changed / unchanged / error rows of a batch by class and community
SELECT s.type_code AS class_code, coalesce(cc.name, '（未知类别）') AS class_name,
       s.community_code, coalesce(cm.name, '（无）') AS community_name,
       count(*) FILTER (WHERE s.action = 'insert') AS new,
       count(*) FILTER (WHERE s.moved_m > 0.5) AS moved,
       count(*) FILTER (WHERE cardinality(s.changed_fields) > 0) AS attribute_changed,
       count(*) FILTER (WHERE s.action = 'unchanged') AS unchanged,
       count(*) FILTER (WHERE s.has_error) AS error_rows,
       count(*) AS rows
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
LEFT JOIN code_catalog cc ON (cc.standard, cc.kind, cc.code) = (b.standard, 'component', s.type_code)
LEFT JOIN community cm ON cm.code = s.community_code
WHERE s.batch = %(batch)s
GROUP BY 1, 2, 3, 4
ORDER BY 1, 3;

-- step: not_resurveyed
-- live components in the unit grids the batch covered that the batch did not survey again
WITH covered AS (SELECT DISTINCT grid_code FROM survey_row WHERE batch = %(batch)s AND grid_code IS NOT NULL),
     seen AS (SELECT final_id FROM survey_row WHERE batch = %(batch)s AND final_id IS NOT NULL)
SELECT c.type_code AS class_code, cc.name AS class_name, c.community_code, coalesce(cm.name, '（无）') AS community_name,
       count(*) AS not_resurveyed
FROM component c
JOIN covered g ON g.grid_code = c.unit_grid_code
JOIN survey_batch b ON b.name = %(batch)s AND b.standard = c.standard
LEFT JOIN code_catalog cc ON (cc.standard, cc.kind, cc.code) = (c.standard, 'component', c.type_code)
LEFT JOIN community cm ON cm.code = c.community_code
WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.final_id = c.id)
GROUP BY 1, 2, 3, 4
ORDER BY 1, 3;

-- step: changed_rows
-- the rows behind the counts (for the map and the workbook); moved and changed first
SELECT s.row_no, s.final_id AS id, s.type_code AS class_code, cc.name AS class_name, s.community_code,
       s.action, round(s.moved_m::numeric, 2) AS moved_m, array_to_string(s.changed_fields, ',') AS changed_fields,
       s.has_error, ST_X(ST_PointOnSurface(s.geom)) AS lon, ST_Y(ST_PointOnSurface(s.geom)) AS lat
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
LEFT JOIN code_catalog cc ON (cc.standard, cc.kind, cc.code) = (b.standard, 'component', s.type_code)
WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND ST_IsValid(s.geom)
ORDER BY (s.action = 'update') DESC, s.has_error DESC, s.row_no
LIMIT %(limit)s;

-- step: coverage_grids
-- live components per unit grid, and per km² of the grid
SELECT g.code AS unit_grid_code, g.community_code, cm.name AS community_name,
       round((g.area_m2 / 1e6)::numeric, 4) AS area_km2, count(c.id) AS components,
       round((count(c.id) / nullif(g.area_m2 / 1e6, 0))::numeric, 1) AS per_km2
FROM unit_grid g
JOIN community cm ON cm.code = g.community_code
LEFT JOIN component c ON c.unit_grid_code = g.code
GROUP BY g.code, cm.name
ORDER BY g.code;

-- step: coverage_classes
-- live components per class, per km² of all unit grids, and in how many grids the class occurs
WITH area AS (SELECT sum(area_m2) / 1e6 AS km2, count(*) AS grids FROM unit_grid)
SELECT c.standard, c.type_code AS class_code, cc.name AS class_name, count(*) AS components,
       round((count(*) / nullif(a.km2, 0))::numeric, 2) AS per_km2,
       count(DISTINCT c.unit_grid_code) AS grids_with_class, a.grids AS grids
FROM component c
CROSS JOIN area a
LEFT JOIN code_catalog cc ON (cc.standard, cc.kind, cc.code) = (c.standard, 'component', c.type_code)
GROUP BY c.standard, c.type_code, cc.name, a.km2, a.grids
ORDER BY c.standard, c.type_code;

-- step: empty_grids
-- unit grids where nothing has been surveyed (no live component at all)
SELECT g.code AS unit_grid_code, g.community_code, cm.name AS community_name,
       round((g.area_m2 / 1e6)::numeric, 4) AS area_km2, ST_AsGeoJSON(g.geom, 7)::jsonb AS geometry
FROM unit_grid g
JOIN community cm ON cm.code = g.community_code
WHERE NOT EXISTS (SELECT 1 FROM component c WHERE c.unit_grid_code = g.code)
ORDER BY g.code;
