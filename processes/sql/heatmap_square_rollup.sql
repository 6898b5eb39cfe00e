-- Square-grid heatmap of officer positions from the roll-ups, exact: whole months
-- [%(m0)s, %(m1)s) from position_cell_month, whole days [%(d0)s, %(m0)s) and [%(m1)s, %(d1)s) from
-- position_cell_day, and the raw rows of the partial days [start, t0) and [t1, end).
-- %(k)s = cell size / 50 (the roll-ups count 50 m cells; floor(floor(x/50)/k) = floor(x/(50k))).
WITH cells AS (
    SELECT ix, iy, sum(n)::int AS n FROM (
        SELECT cx / %(k)s AS ix, cy / %(k)s AS iy, sum(n) AS n
        FROM position_cell_month
        WHERE month >= %(m0)s AND month < %(m1)s
        GROUP BY 1, 2
        UNION ALL
        SELECT cx / %(k)s, cy / %(k)s, sum(n)
        FROM position_cell_day
        WHERE (day >= %(d0)s AND day < %(m0)s) OR (day >= %(m1)s AND day < %(d1)s)
        GROUP BY 1, 2
        UNION ALL
        SELECT floor(ST_X(p) / %(size)s)::int, floor(ST_Y(p) / %(size)s)::int, count(*)
        FROM (SELECT ST_Transform(geom, 4548) AS p FROM officer_position
              WHERE (recorded_at >= %(start)s AND recorded_at < %(t0)s)
                 OR (recorded_at >= %(t1)s AND recorded_at < %(end)s)) pts
        GROUP BY 1, 2
    ) parts
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
