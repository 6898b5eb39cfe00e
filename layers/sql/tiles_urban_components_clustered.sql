-- urban-components at low zooms: components counted in square cells of the tile (cells_per_tile
-- across), one point per occupied cell at the mean position of its members, with the commonest
-- major class. Cells are tile-aligned, so a cell's count is the same wherever it is drawn.
-- The cell of a point is computed from lon/lat with the Web Mercator formula, and only the cell
-- centres are transformed: a PROJ transform per member row costs ~5 µs, 0.7 s on 130k components.
-- Parameters: z, x, y, cells (= 2^z * cells_per_tile, cells across the world), cells_per_tile.
WITH member AS (
    SELECT c.type_code, p.lon, p.lat,
           floor((p.lon + 180) / 360 * %(cells)s) AS cx,
           floor((1 - ln(tan(radians(p.lat)) + 1 / cos(radians(p.lat))) / pi()) / 2 * %(cells)s) AS cy
    FROM component c
    CROSS JOIN LATERAL (SELECT CASE WHEN GeometryType(c.geom) = 'POINT' THEN c.geom
                                    ELSE ST_PointOnSurface(c.geom) END AS g) q
    CROSS JOIN LATERAL (SELECT ST_X(q.g) AS lon, ST_Y(q.g) AS lat) p
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4490)
), cell AS (
    SELECT count(*) AS count, mode() WITHIN GROUP (ORDER BY left(type_code, 2)) AS major,
           avg(lon) AS lon, avg(lat) AS lat
    FROM member
    WHERE floor(cx / %(cells_per_tile)s) = %(x)s AND floor(cy / %(cells_per_tile)s) = %(y)s
    GROUP BY cx, cy
)
SELECT ST_AsMVT(t, 'urban-components', 4096, 'geom') FROM (
    SELECT count, major,
           ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4490), 3857),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM cell
) AS t
WHERE t.geom IS NOT NULL
