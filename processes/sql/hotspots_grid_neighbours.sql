-- Queen contiguity between unit grids: pairs that share at least a point (each pair once).
SELECT a.code AS a, b.code AS b
FROM unit_grid a JOIN unit_grid b ON a.code < b.code AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
WHERE a.code = ANY(%(codes)s) AND b.code = ANY(%(codes)s)
