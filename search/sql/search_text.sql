-- The search box for words (search/find.py): POIs by name, alias, full pinyin and initials,
-- addresses, community and unit-grid names. Each source proposes at most %(limit)s candidates, scored
--   tier (exact 3, prefix 2, substring or word-similar 1) + 0.4 × similarity + 0.5 × category weight,
-- then the best %(limit)s overall. Parameters: q (trimmed), qp (lower case without spaces: pinyin),
-- pre / prep (LIKE prefix patterns of q / qp), sub / subp (LIKE substring patterns), fuzzy (q is long
-- enough for trigrams to mean something; shorter ones are matched by strpos over the rows, as a
-- trigram index cannot serve them), types (text[]), limit. Coordinates are the stored
-- CGCS2000 lon/lat (EPSG:4490), within a metre of EPSG:4326.
WITH hit AS (
    (SELECT 'poi' AS type, t.id::text AS id, t.name AS title, concat_ws(' · ', t.category, t.address) AS subtitle,
            'pois' AS collection, t.geom,
            CASE WHEN t.name = %(q)s OR %(q)s = ANY (t.alias) OR t.pinyin = %(qp)s OR t.pinyin_initials = %(qp)s THEN 3
                 WHEN t.name LIKE %(pre)s OR t.pinyin LIKE %(prep)s OR t.pinyin_initials LIKE %(prep)s
                      OR EXISTS (SELECT 1 FROM unnest(t.alias) a WHERE a LIKE %(pre)s) THEN 2
                 ELSE 1 END
            + 0.4 * greatest(similarity(t.name, %(q)s), similarity(t.pinyin, %(qp)s), similarity(t.pinyin_initials, %(qp)s))
            + 0.5 * coalesce(w.search_weight, 0) AS score
     FROM poi t LEFT JOIN poi_category w ON w.category = t.category
     WHERE 'poi' = ANY (%(types)s)
       AND ((%(fuzzy)s AND t.search_names LIKE %(sub)s)
            OR (%(fuzzy)s AND t.search_names LIKE %(subp)s)
            OR (NOT %(fuzzy)s AND (strpos(t.search_names, %(q)s) > 0 OR strpos(t.search_names, %(qp)s) > 0))
            OR (%(fuzzy)s AND %(q)s <%% t.search_names)
            OR (%(fuzzy)s AND %(qp)s <%% t.search_names))
     ORDER BY score DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'address', t.id::text, t.address, t.name, 'pois', t.geom,
            CASE WHEN t.address = %(q)s THEN 3 WHEN t.address LIKE %(pre)s THEN 2 ELSE 1 END
            + 0.4 * similarity(t.address, %(q)s)
     FROM poi t
     WHERE 'address' = ANY (%(types)s) AND (CASE WHEN %(fuzzy)s THEN t.address LIKE %(sub)s OR %(q)s <%% t.address
                                                     ELSE strpos(t.address, %(q)s) > 0 END)
     ORDER BY 7 DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'community', t.code, t.name, concat_ws(' · ', t.kind, t.code), 'communities', t.geom,
            CASE WHEN t.name = %(q)s THEN 3 WHEN t.name LIKE %(pre)s THEN 2 ELSE 1 END + 0.4 * similarity(t.name, %(q)s)
            + 0.5   -- a community weighs what the town government does (its committee's alias is its name)
     FROM community t
     WHERE 'community' = ANY (%(types)s) AND (CASE WHEN %(fuzzy)s THEN t.name LIKE %(sub)s OR %(q)s <%% t.name ELSE strpos(t.name, %(q)s) > 0 END)
     ORDER BY 7 DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'unit_grid', t.code, coalesce(t.name, t.code), concat_ws(' · ', '单元网格 ' || t.code, m.name), 'unit-grids', t.geom,
            CASE WHEN t.name = %(q)s THEN 3 WHEN t.name LIKE %(pre)s THEN 2 ELSE 1 END + 0.4 * similarity(t.name, %(q)s)
     FROM unit_grid t JOIN community m ON m.code = t.community_code
     WHERE 'unit_grid' = ANY (%(types)s) AND (CASE WHEN %(fuzzy)s THEN t.name LIKE %(sub)s OR %(q)s <%% t.name ELSE strpos(t.name, %(q)s) > 0 END)
     ORDER BY 7 DESC LIMIT %(limit)s)
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
