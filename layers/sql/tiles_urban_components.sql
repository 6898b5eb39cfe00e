-- urban-components (管理部件) at detail zooms: every component, with the fields the map styles by.
-- Parameters: z, x, y, margin (share of the tile width queried around it).
-- No MVT feature id: 17-digit ids exceed JavaScript's exact integers; `id` is the text id.
SELECT ST_AsMVT(t, 'urban-components', 4096, 'geom') FROM (
    SELECT c.id, c.type_code, left(c.type_code, 2) AS major, c.name, c.status,
           ST_AsMVTGeom(ST_Transform(c.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM component c
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
