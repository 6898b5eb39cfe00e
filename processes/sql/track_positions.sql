-- One officer's fixes in a window: epoch seconds, EPSG:4548 x/y, lon/lat, and metres outside his
-- fence (the union of his responsibility grids; 0 inside, NULL when he has none).
WITH fence AS (
    SELECT ST_Transform(ST_Union(geom), 4548) AS g
    FROM responsibility_grid WHERE officer_id = %(officer)s AND geom IS NOT NULL
)
SELECT extract(epoch FROM s.recorded_at) AS t, ST_X(s.p) AS x, ST_Y(s.p) AS y, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
       ST_Distance(fence.g, s.p) AS outside_m
FROM (SELECT recorded_at, geom, ST_Transform(geom, 4548) AS p FROM officer_position
      WHERE officer_id = %(officer)s AND recorded_at >= %(start)s AND recorded_at < %(end)s) s
CROSS JOIN fence
ORDER BY s.recorded_at
