-- basemap `town`: the town boundary (镇界) as a line.
SELECT ST_AsMVT(t, 'town', 4096, 'geom') FROM (
    SELECT w.code, w.name,
           ST_AsMVTGeom(ST_Simplify(ST_Boundary(ST_Transform(w.geom, 3857)), %(tolerance)s),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM town w
    WHERE w.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
