-- Square-grid heatmap from raw rows: cells of %(size)s metres in EPSG:4548, origin at (0, 0).
-- {point} {table} {where} are fixed fragments; values are parameters.
WITH cells AS (
    SELECT floor(ST_X(p) / %(size)s)::int AS ix, floor(ST_Y(p) / %(size)s)::int AS iy, count(*)::int AS n
    FROM (SELECT ST_Transform({point}, 4548) AS p FROM {table} s WHERE {where}) pts
    GROUP BY 1, 2
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'numberMatched', count(*),
    'total', coalesce(sum(n), 0),
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature', 'id', ix || '_' || iy,
        'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(ix * %(size)s, iy * %(size)s, (ix + 1) * %(size)s, (iy + 1) * %(size)s, 4548), 4490), 7, 0)::json,
        'properties', json_build_object('ix', ix, 'iy', iy, 'count', n)) ORDER BY n DESC), '[]'::json)
)::text AS doc
FROM cells
