-- Counts per unit grid (points located by ST_Intersects, so every source works) for the unit
-- grids in the study area (the filter area, or all), zeros included.
WITH grids AS (
    SELECT g.code, g.geom FROM unit_grid g WHERE {grid_where}
), counts AS (
    SELECT g.code, count(*)::int AS n
    FROM (SELECT {point} AS p FROM {table} s WHERE {where}) pts
    JOIN grids g ON ST_Intersects(g.geom, pts.p)
    GROUP BY g.code
)
SELECT g.code, coalesce(c.n, 0) AS n, ST_X(ST_Transform(ST_PointOnSurface(g.geom), 4548)) AS x,
       ST_Y(ST_Transform(ST_PointOnSurface(g.geom), 4548)) AS y, ST_AsGeoJSON(g.geom, 7, 0) AS geom
FROM grids g LEFT JOIN counts c USING (code)
ORDER BY g.code
