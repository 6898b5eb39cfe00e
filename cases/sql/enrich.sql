-- Where is it and who is responsible: location (coordinates, component, camera or address),
-- unit grid, community, responsibility grid and its officer, the town, the department by rule
-- (longest category prefix, then longest area prefix) and the workflow by rule (channel × category).
WITH
comp AS (
    SELECT id, standard, type_code, dept_code, ST_PointOnSurface(geom) AS p
    FROM component WHERE id = %(component_id)s
),
cam AS (
    SELECT code, geom AS p FROM camera WHERE code = %(camera_code)s AND active
),
poi_hit AS (
    SELECT geom AS p, name, strpos(%(address)s::text, name) > 0 AS exact FROM poi
    WHERE %(address)s::text IS NOT NULL AND (name %% %(address)s::text OR strpos(%(address)s::text, name) > 0)
    ORDER BY strpos(%(address)s::text, name) > 0 DESC, length(name) DESC, similarity(name, %(address)s::text) DESC
    LIMIT 1
),
community_hit AS (
    SELECT ST_PointOnSurface(geom) AS p, name FROM community
    WHERE %(address)s::text IS NOT NULL AND strpos(%(address)s::text, name) > 0
    ORDER BY length(name) DESC LIMIT 1
),
loc AS (
    SELECT p, source FROM (
        SELECT ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4490) AS p, 'coordinates' AS source, 1 AS o
        WHERE %(lon)s::float8 IS NOT NULL AND %(lat)s::float8 IS NOT NULL
        UNION ALL SELECT p, 'component', 2 FROM comp
        UNION ALL SELECT p, 'camera', 3 FROM cam
        -- a POI named in the address, then a community named in it, then the nearest-sounding POI
        UNION ALL SELECT p, 'poi:' || name, CASE WHEN exact THEN 4 ELSE 6 END FROM poi_hit
        UNION ALL SELECT p, 'community:' || name, 5 FROM community_hit
    ) l ORDER BY o LIMIT 1
),
grid AS (
    SELECT g.code, g.community_code FROM unit_grid g, loc
    WHERE ST_Intersects(g.geom, loc.p) AND (g.valid_to IS NULL OR g.valid_to >= current_date)
    ORDER BY g.code LIMIT 1
),
rgrid AS (
    SELECT r.code, r.officer_id FROM responsibility_grid_member m
    JOIN responsibility_grid r ON r.code = m.responsibility_grid_code
    WHERE m.unit_grid_code = (SELECT code FROM grid)
),
town_hit AS (
    SELECT t.code FROM town t, loc WHERE ST_Intersects(t.geom, loc.p) ORDER BY t.code LIMIT 1
),
dept AS (
    SELECT d.department_code FROM department_responsibility d
    JOIN department dp ON dp.code = d.department_code AND dp.active
    WHERE d.standard = %(standard)s AND d.kind = %(kind)s
      AND left(%(code)s, length(d.category_prefix)) = d.category_prefix
      AND left(coalesce((SELECT code FROM grid), (SELECT code FROM town_hit), ''), length(d.area_prefix)) = d.area_prefix
    ORDER BY length(d.category_prefix) DESC, length(d.area_prefix) DESC, d.id
    LIMIT 1
),
wf AS (
    -- the same selection the designer's preview shows (db/migrations/1140_workflow_rule_for.sql)
    SELECT workflow_code FROM workflow_rule_for(%(channel)s, %(code)s, %(self_handled)s)
)
SELECT
    (SELECT ST_X(p) FROM loc) AS lon, (SELECT ST_Y(p) FROM loc) AS lat, (SELECT source FROM loc) AS location_source,
    (SELECT code FROM town_hit) AS town_code,
    (SELECT code FROM town ORDER BY code LIMIT 1) AS default_town_code,
    (SELECT code FROM grid) AS unit_grid_code,
    (SELECT community_code FROM grid) AS community_code,
    (SELECT code FROM rgrid) AS responsibility_grid_code,
    (SELECT officer_id FROM rgrid) AS officer_id,
    coalesce((SELECT department_code FROM dept), (SELECT dept_code FROM comp)) AS department_code,
    (SELECT workflow_code FROM wf) AS workflow_code,
    (SELECT id FROM comp) AS component_id,
    (SELECT standard FROM comp) AS component_standard,
    (SELECT type_code FROM comp) AS component_type_code,
    (SELECT code FROM cam) AS camera_code,
    (SELECT EXISTS (SELECT 1 FROM case_channel WHERE code = %(channel)s)) AS channel_known,
    (SELECT EXISTS (SELECT 1 FROM case_urgency WHERE code = %(urgency)s)) AS urgency_known,
    (SELECT id FROM officer WHERE code = %(reporter_officer_code)s) AS reporter_officer_id
