-- Hexagon-grid heatmap: PostGIS hexagons of edge %(size)s m in EPSG:4548. ST_HexagonGrid over one
-- point's bounds yields the (globally indexed) hexagons touching it; a point on a shared edge is
-- counted once, in the hexagon with the smallest (i, j).
WITH hit AS (
    SELECT DISTINCT ON (pts.pid) h.i, h.j
    FROM (SELECT row_number() OVER () AS pid, ST_Transform({point}, 4548) AS p FROM {table} s WHERE {where}) pts
    CROSS JOIN LATERAL ST_HexagonGrid(%(size)s, pts.p) h
    WHERE ST_Intersects(pts.p, h.geom)
    ORDER BY pts.pid, h.i, h.j
), cells AS (
    SELECT i, j, count(*)::int AS n FROM hit GROUP BY 1, 2
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'numberMatched', count(*),
    'total', coalesce(sum(c.n), 0),
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature', 'id', c.i || '_' || c.j,
        'geometry', ST_AsGeoJSON(ST_Transform(h.geom, 4490), 7, 0)::json,
        'properties', json_build_object('i', c.i, 'j', c.j, 'count', c.n)) ORDER BY c.n DESC), '[]'::json)
)::text AS doc
FROM cells c
CROSS JOIN LATERAL (
    -- the hexagon (i, j) itself: the grid over a point at its centre
    SELECT g.geom FROM ST_HexagonGrid(%(size)s, ST_SetSRID(ST_MakePoint(c.i * 1.5 * %(size)s, c.j * sqrt(3) * %(size)s + CASE WHEN c.i %% 2 = 0 THEN 0 ELSE sqrt(3) / 2 * %(size)s END), 4548)) g
    WHERE g.i = c.i AND g.j = c.j
) h
