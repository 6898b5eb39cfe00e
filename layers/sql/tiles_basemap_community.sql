-- basemap `community`: 社区/村 outlines, plus one label point each (label = 1) placed inside it.
SELECT ST_AsMVT(t, 'community', 4096, 'geom') FROM (
    SELECT c.code, c.name, c.kind, 0 AS label,
           ST_AsMVTGeom(ST_Simplify(ST_Transform(c.geom, 3857), %(tolerance)s, true),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM community c
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
    UNION ALL
    SELECT c.code, c.name, c.kind, 1,
           ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(c.geom), 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true)
    FROM community c
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
