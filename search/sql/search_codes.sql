-- The search box for codes (search/find.py: q is all digits): unit-grid and community codes,
-- component IDs, case numbers — the first codes of the prefix in index order ("C"-collated
-- indexes of 0821), the exact one scored 3, the others 2. The prefix is a range [q, q_end) rather
-- than LIKE: under row security only leakproof operators reach the index, and LIKE is not one. Components only when the caller may read
-- them; cases only when he may list cases, and then under his row security (the transaction has
-- entered it). Parameters as search_text.sql plus components, cases (booleans).
WITH hit AS (
    (SELECT 'unit_grid' AS type, t.code AS id, coalesce(t.name, t.code) AS title,
            concat_ws(' · ', '单元网格 ' || t.code, m.name) AS subtitle, 'unit-grids' AS collection, t.geom,
            CASE WHEN t.code = %(q)s THEN 3 ELSE 2 END::float8 AS score
     FROM unit_grid t JOIN community m ON m.code = t.community_code
     WHERE 'unit_grid' = ANY (%(types)s) AND t.code COLLATE "C" >= %(q)s AND t.code COLLATE "C" < %(q_end)s
     ORDER BY t.code COLLATE "C" LIMIT %(limit)s)
    UNION ALL
    (SELECT 'community', t.code, t.name, concat_ws(' · ', t.kind, t.code), 'communities', t.geom,
            CASE WHEN t.code = %(q)s THEN 3 ELSE 2 END::float8
     FROM community t
     WHERE 'community' = ANY (%(types)s) AND t.code COLLATE "C" >= %(q)s AND t.code COLLATE "C" < %(q_end)s
     ORDER BY t.code COLLATE "C" LIMIT %(limit)s)
    UNION ALL
    (SELECT 'component', t.id, t.id, concat_ws(' · ', k.name, t.name, t.status, t.community_name), 'urban-components', t.geom,
            CASE WHEN t.id = %(q)s THEN 3 ELSE 2 END::float8
     FROM component t
     LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (t.standard, 'component', t.type_code)
     WHERE %(components)s AND 'component' = ANY (%(types)s) AND t.id COLLATE "C" >= %(q)s AND t.id COLLATE "C" < %(q_end)s
     ORDER BY t.id COLLATE "C" LIMIT %(limit)s)
    UNION ALL
    (SELECT 'case', t.id::text, t.case_number,
            concat_ws(' · ', k.name, (SELECT w.definition -> 'states' -> t.state ->> 'name' FROM workflow w
                                      WHERE w.code = t.workflow AND w.is_active), t.address),
            'cases', t.geom,
            CASE WHEN t.case_number = %(q)s THEN 3 ELSE 2 END::float8
     FROM cases t
     LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (t.standard, t.category_kind, t.category_code)
     WHERE %(cases)s AND 'case' = ANY (%(types)s) AND t.case_number COLLATE "C" >= %(q)s AND t.case_number COLLATE "C" < %(q_end)s
     ORDER BY t.case_number COLLATE "C" LIMIT %(limit)s)
)
SELECT type, id, title, subtitle, collection, round(score::numeric, 3)::float8 AS score,
       CASE WHEN geom IS NULL THEN NULL ELSE
            json_build_array(round(ST_XMin(geom)::numeric, 6), round(ST_YMin(geom)::numeric, 6),
                             round(ST_XMax(geom)::numeric, 6), round(ST_YMax(geom)::numeric, 6)) END AS bbox,
       CASE WHEN geom IS NULL THEN NULL ELSE
            json_build_array(round(ST_X(p)::numeric, 6), round(ST_Y(p)::numeric, 6)) END AS point
FROM hit, LATERAL (SELECT ST_PointOnSurface(geom) AS p) s
ORDER BY score DESC, length(title), title
LIMIT %(limit)s
