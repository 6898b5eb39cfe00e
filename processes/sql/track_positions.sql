-- One officer's fixes in a window: epoch seconds, EPSG:4548 x/y, lon/lat.
SELECT extract(epoch FROM recorded_at) AS t, ST_X(p) AS x, ST_Y(p) AS y, ST_X(geom) AS lon, ST_Y(geom) AS lat
FROM (SELECT recorded_at, geom, ST_Transform(geom, 4548) AS p FROM officer_position
      WHERE officer_id = %(officer)s AND recorded_at >= %(start)s AND recorded_at < %(end)s) s
ORDER BY recorded_at
