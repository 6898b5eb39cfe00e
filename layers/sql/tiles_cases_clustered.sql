-- cases at low zooms: counted per tile-aligned cell (see tiles_urban_components_clustered.sql),
-- with the open count and the worst time-limit colour among open cases.
WITH member AS (
    SELECT c.is_closed, c.sla_color, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
           floor((ST_X(c.geom) + 180) / 360 * %(cells)s) AS cx,
           floor((1 - ln(tan(radians(ST_Y(c.geom))) + 1 / cos(radians(ST_Y(c.geom)))) / pi()) / 2 * %(cells)s) AS cy
    FROM case_public c
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4490)
), cell AS (
    SELECT count(*) AS count, count(*) FILTER (WHERE NOT is_closed) AS open_count,
           CASE WHEN bool_or(sla_color = 'red') THEN 'red' WHEN bool_or(sla_color = 'yellow') THEN 'yellow'
                WHEN bool_or(sla_color = 'green') THEN 'green' END AS sla_color,
           avg(lon) AS lon, avg(lat) AS lat
    FROM member
    WHERE floor(cx / %(cells_per_tile)s) = %(x)s AND floor(cy / %(cells_per_tile)s) = %(y)s
    GROUP BY cx, cy
)
SELECT ST_AsMVT(t, 'cases', 4096, 'geom') FROM (
    SELECT count, open_count, sla_color,
           ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4490), 3857),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM cell
) AS t
WHERE t.geom IS NOT NULL
