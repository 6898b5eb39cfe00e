-- The web workspace's queries (survey page, coverage and change maps); each "-- step:" block is one
-- named query returning one GeoJSON FeatureCollection (lon/lat, EPSG:4490 read as CRS84).

-- step: rows
-- staged rows of a batch with their state on the map: error / insert / moved / changed / unchanged,
-- the non-info checks that hit them, and whether the page corrected them
WITH hit AS (
    SELECT i.row_no, min(CASE k.severity WHEN 'error' THEN 1 ELSE 2 END) AS worst,
           array_agg(i.check_code ORDER BY i.check_code) AS checks,
           array_agg(i.message ORDER BY i.check_code) AS messages
    FROM survey_issue i JOIN survey_check k ON k.code = i.check_code
    WHERE i.batch = %(batch)s AND k.severity <> 'info'
    GROUP BY i.row_no
), picked AS (
    SELECT s.*, h.worst, h.checks, h.messages
    FROM survey_row s
    LEFT JOIN hit h ON h.row_no = s.row_no
    WHERE s.batch = %(batch)s AND (%(row)s::int IS NULL OR s.row_no = %(row)s)
      AND (NOT %(problems)s OR h.row_no IS NOT NULL)
      AND (%(check)s::text IS NULL OR %(check)s = ANY(h.checks))
    ORDER BY s.row_no
    LIMIT %(limit)s
)
SELECT jsonb_build_object('type', 'FeatureCollection', 'features', coalesce(jsonb_agg(jsonb_build_object(
    'type', 'Feature', 'id', p.row_no,
    'geometry', CASE WHEN p.geom IS NOT NULL AND NOT ST_IsEmpty(p.geom) THEN ST_AsGeoJSON(p.geom, 9, 0)::jsonb END,
    'properties', jsonb_build_object(
        'row_no', p.row_no, 'component_id', coalesce(p.final_id, p.attrs ->> 'GLBJBSM'),
        'class_code', p.type_code, 'class_name', cc.name,
        'state', CASE WHEN p.has_error THEN 'error' WHEN p.action = 'insert' THEN 'insert'
                      WHEN p.action = 'update' AND p.moved_m > 0.5 THEN 'moved'
                      WHEN p.action = 'update' THEN 'changed' ELSE coalesce(p.action, 'error') END,
        'severity', CASE p.worst WHEN 1 THEN 'error' WHEN 2 THEN 'warning' END,
        'checks', to_jsonb(coalesce(p.checks, '{}')), 'messages', to_jsonb(coalesce(p.messages, '{}')),
        'moved_m', round(p.moved_m::numeric, 2), 'changed_fields', to_jsonb(p.changed_fields),
        'attrs', p.attrs,
        'corrections', (SELECT count(*) FROM survey_correction c WHERE (c.batch, c.row_no) = (p.batch, p.row_no))))
    ORDER BY p.row_no), '[]'::jsonb)) AS collection
FROM picked p
JOIN survey_batch b ON b.name = p.batch
LEFT JOIN code_catalog cc ON (cc.standard, cc.kind, cc.code) = (b.standard, 'component', p.type_code);

-- step: coverage
-- per unit grid: live components (of one class, or all), per class, and per km²; zero = nothing surveyed
WITH n AS (
    SELECT unit_grid_code, type_code, count(*) AS n
    FROM component
    WHERE (%(standard)s::text IS NULL OR standard = %(standard)s)
    GROUP BY 1, 2
), per_grid AS (
    SELECT unit_grid_code, jsonb_object_agg(type_code, n) AS by_class,
           sum(n) FILTER (WHERE %(class)s::text IS NULL OR type_code = %(class)s) AS components
    FROM n GROUP BY 1
)
SELECT jsonb_build_object('type', 'FeatureCollection', 'features', coalesce(jsonb_agg(jsonb_build_object(
    'type', 'Feature', 'id', g.code,
    'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(g.geom, 0.000005), 7)::jsonb,
    'properties', jsonb_build_object(
        'unit_grid_code', g.code, 'community_name', cm.name, 'area_km2', round((g.area_m2 / 1e6)::numeric, 4),
        'components', coalesce(p.components, 0),
        'per_km2', round((coalesce(p.components, 0) / nullif(g.area_m2 / 1e6, 0))::numeric, 1),
        'by_class', coalesce(p.by_class, '{}'::jsonb),
        'surveyed', coalesce(p.components, 0) > 0))
    ORDER BY g.code), '[]'::jsonb)) AS collection
FROM unit_grid g
JOIN community cm ON cm.code = g.community_code
LEFT JOIN per_grid p ON p.unit_grid_code = g.code;

-- step: changes
-- what a published batch did to the live layer: new, moved (> 0.5 m) or changed components, as
-- they are now (deleted ones as they were), with the time of the change for the page's time filter
SELECT jsonb_build_object('type', 'FeatureCollection', 'features', coalesce(jsonb_agg(jsonb_build_object(
    'type', 'Feature', 'id', x.component_id,
    'geometry', x.geometry,
    'properties', jsonb_build_object(
        'component_id', x.component_id, 'class_code', x.new_row ->> 'type_code', 'name', x.new_row ->> 'name',
        'change', x.change, 'moved_m', round(x.moved_m::numeric, 2), 'changed_at', x.changed_at,
        'changed_by', x.changed_by, 'batch', x.batch))
    ORDER BY x.changed_at, x.component_id), '[]'::jsonb)) AS collection
FROM (
    SELECT h.component_id, h.new_row, h.changed_at, h.changed_by, h.batch, h.new_row -> 'geom' AS geometry,
           m.moved_m,
           CASE WHEN h.operation = 'insert' THEN 'new' WHEN m.moved_m > 0.5 THEN 'moved' ELSE 'changed' END AS change
    FROM component_history h
    CROSS JOIN LATERAL (
        SELECT CASE WHEN h.operation = 'update' THEN ST_HausdorffDistance(
            ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(h.old_row -> 'geom'), 4490), 4548),
            ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(h.new_row -> 'geom'), 4490), 4548)) END AS moved_m) m
    WHERE h.batch = %(batch)s AND h.operation IN ('insert', 'update')
      AND (%(since)s::timestamptz IS NULL OR h.changed_at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR h.changed_at < %(until)s)
    LIMIT %(limit)s
) x;
