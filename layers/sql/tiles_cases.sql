-- cases (案件) at detail zooms, public fields only (the case_public view: no reporter, no officer).
SELECT ST_AsMVT(t, 'cases', 4096, 'geom', 'fid') FROM (
    SELECT c.id AS fid, c.id, c.case_number, c.channel, c.category_code, c.category_name, c.urgency, c.state,
           c.is_closed, c.sla_color, to_char(c.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS reported_at,
           ST_AsMVTGeom(ST_Transform(c.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM case_public c
    WHERE c.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
) AS t
WHERE t.geom IS NOT NULL
