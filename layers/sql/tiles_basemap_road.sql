-- basemap `road`: the road network of the demo town (table demo_road), with name and class (kind: arterial, street, lane).
SELECT ST_AsMVT(t, 'road', 4096, 'geom') FROM (
    SELECT r.name, r.class AS kind,
           ST_AsMVTGeom(ST_Simplify(ST_Transform(r.geom, 3857), %(tolerance)s, true),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM demo_road r
    WHERE r.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
