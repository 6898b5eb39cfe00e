-- DBSCAN (ST_ClusterDBSCAN) in EPSG:4548: eps %(eps)s metres, %(minpoints)s points; one row per
-- cluster with its size, centroid, convex hull (buffered by eps/2 when degenerate) and top labels.
WITH pts AS (
    SELECT {label} AS label, ST_Transform({point}, 4548) AS p FROM {table} s WHERE {where}
), clustered AS (
    SELECT label, p, ST_ClusterDBSCAN(p, eps := %(eps)s, minpoints := %(minpoints)s) OVER () AS cid FROM pts
), members AS (
    SELECT cid, count(*)::int AS n, ST_Collect(p) AS g FROM clustered WHERE cid IS NOT NULL GROUP BY cid
), labels AS (
    SELECT cid, json_agg(json_build_object('code', label, 'count', n) ORDER BY n DESC, label) FILTER (WHERE rk <= %(top)s) AS top
    FROM (SELECT cid, label, count(*) AS n, row_number() OVER (PARTITION BY cid ORDER BY count(*) DESC, label) AS rk
          FROM clustered WHERE cid IS NOT NULL GROUP BY cid, label) l
    GROUP BY cid
), noise AS (
    SELECT count(*)::int AS n FROM clustered WHERE cid IS NULL
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'numberMatched', (SELECT count(*) FROM members),
    'noise', (SELECT n FROM noise),
    'features', coalesce((SELECT json_agg(json_build_object(
        'type', 'Feature', 'id', m.cid,
        'geometry', ST_AsGeoJSON(ST_Transform(CASE WHEN %(geometry)s = 'hull'
                        THEN CASE WHEN ST_Dimension(ST_ConvexHull(m.g)) < 2 THEN ST_Buffer(ST_ConvexHull(m.g), %(eps)s / 2.0, 8)
                                  ELSE ST_ConvexHull(m.g) END
                        ELSE ST_Centroid(m.g) END, 4490), 7, 0)::json,
        'properties', json_build_object(
            'cluster', m.cid, 'count', m.n,
            'centroid', ST_AsGeoJSON(ST_Transform(ST_Centroid(m.g), 4490), 7, 0)::json,
            'area_m2', round(ST_Area(ST_ConvexHull(m.g))::numeric, 1),
            'top_categories', l.top)) ORDER BY m.n DESC)
        FROM members m JOIN labels l USING (cid)), '[]'::json)
)::text AS doc
