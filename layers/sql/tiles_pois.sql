-- pois (兴趣点) at detail zooms.
SELECT ST_AsMVT(t, 'pois', 4096, 'geom', 'fid') FROM (
    SELECT p.id AS fid, p.id, p.name, p.category, p.address,
           ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM poi p
    WHERE p.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
