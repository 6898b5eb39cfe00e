-- unit-grids (单元网格) in force today, simplified by `tolerance` metres (EPSG:3857) at low zooms.
SELECT ST_AsMVT(t, 'unit-grids', 4096, 'geom') FROM (
    SELECT g.code, g.name, g.community_code, g.land_use, round(g.area_m2)::integer AS area_m2,
           ST_AsMVTGeom(ST_Simplify(ST_Transform(g.geom, 3857), %(tolerance)s, true),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM unit_grid g
    WHERE g.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
      AND (g.valid_to IS NULL OR g.valid_to >= current_date)
) AS t
WHERE t.geom IS NOT NULL
