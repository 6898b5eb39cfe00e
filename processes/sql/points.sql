-- The filtered points, as lon/lat (EPSG:4490) and x/y (EPSG:4548), for work done in numpy.
SELECT ST_X(g) AS lon, ST_Y(g) AS lat, ST_X(p) AS x, ST_Y(p) AS y
FROM (SELECT {point} AS g, ST_Transform({point}, 4548) AS p FROM {table} s WHERE {where}) pts
