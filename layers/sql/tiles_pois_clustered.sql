-- pois at low zooms: counted per tile-aligned cell, with the commonest category.
WITH member AS (
    SELECT p.category, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
           floor((ST_X(p.geom) + 180) / 360 * %(cells)s) AS cx,
           floor((1 - ln(tan(radians(ST_Y(p.geom))) + 1 / cos(radians(ST_Y(p.geom)))) / pi()) / 2 * %(cells)s) AS cy
    FROM poi p
    WHERE p.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4490)
), cell AS (
    SELECT count(*) AS count, mode() WITHIN GROUP (ORDER BY category) AS category, avg(lon) AS lon, avg(lat) AS lat
    FROM member
    WHERE floor(cx / %(cells_per_tile)s) = %(x)s AND floor(cy / %(cells_per_tile)s) = %(y)s
    GROUP BY cx, cy
)
SELECT ST_AsMVT(t, 'pois', 4096, 'geom') FROM (
    SELECT count, category,
           ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4490), 3857),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM cell
) AS t
WHERE t.geom IS NOT NULL
