-- Counts per square cell of %(size)s m (EPSG:4548) for every cell touching the study area (the
-- filter area, or the town), zeros included: Gi* needs the empty cells too.
WITH area AS (
    SELECT ST_Transform({area}, 4548) AS g
), cells AS (
    SELECT ix, iy
    FROM area,
         generate_series(floor(ST_XMin(g) / %(size)s)::int, floor(ST_XMax(g) / %(size)s)::int) AS ix,
         generate_series(floor(ST_YMin(g) / %(size)s)::int, floor(ST_YMax(g) / %(size)s)::int) AS iy
    WHERE ST_Relate(area.g, ST_MakeEnvelope(ix * %(size)s, iy * %(size)s, (ix + 1) * %(size)s, (iy + 1) * %(size)s, 4548), 'T********')  -- interiors meet: touching is not enough
), counts AS (
    SELECT floor(ST_X(p) / %(size)s)::int AS ix, floor(ST_Y(p) / %(size)s)::int AS iy, count(*)::int AS n
    FROM (SELECT ST_Transform({point}, 4548) AS p FROM {table} s WHERE {where}) pts
    GROUP BY 1, 2
)
SELECT c.ix, c.iy, coalesce(n.n, 0) AS n,
       ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(c.ix * %(size)s, c.iy * %(size)s, (c.ix + 1) * %(size)s, (c.iy + 1) * %(size)s, 4548), 4490), 7, 0) AS geom
FROM cells c LEFT JOIN counts n USING (ix, iy)
ORDER BY c.ix, c.iy
