-- A segment of a track simplified (Douglas-Peucker, ST_Simplify) in EPSG:4548 with the time kept as
-- the M value of every vertex; returned as (epoch, lon, lat) per kept vertex.
WITH line AS (
    SELECT ST_MakeLine(ST_MakePointM(x, y, t) ORDER BY ord) AS g
    FROM unnest(%(t)s::float8[], %(x)s::float8[], %(y)s::float8[]) WITH ORDINALITY AS u(t, x, y, ord)
), simple AS (
    SELECT CASE WHEN ST_NPoints(g) > 2 AND %(tol)s > 0 THEN ST_Simplify(g, %(tol)s, true) ELSE g END AS g FROM line
)
SELECT ST_M(d.geom) AS m, ST_X(ST_Transform(ST_SetSRID(d.geom, 4548), 4490)) AS lon, ST_Y(ST_Transform(ST_SetSRID(d.geom, 4548), 4490)) AS lat
FROM simple, ST_DumpPoints(simple.g) d
ORDER BY d.path[1]
