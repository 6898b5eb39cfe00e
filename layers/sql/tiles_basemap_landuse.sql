-- basemap `landuse`: unit grids coloured by their land use (用地类别), grouped into a few kinds.
-- The kinds are matched on the Chinese names, so any catalog wording of 用地类别 lands somewhere.
SELECT ST_AsMVT(t, 'landuse', 4096, 'geom') FROM (
    SELECT g.land_use,
           CASE WHEN g.land_use ~ '水' THEN 'water'
                WHEN g.land_use ~ '(耕|农|田|菜)' THEN 'farmland'
                WHEN g.land_use ~ '(绿|林|园|公园)' THEN 'green'
                WHEN g.land_use ~ '(工业|仓储|物流)' THEN 'industrial'
                WHEN g.land_use ~ '(商|办公|服务)' THEN 'commercial'
                WHEN g.land_use ~ '(城镇|城市)' THEN 'urban'
                WHEN g.land_use ~ '(住|居|宅|村)' THEN 'residential'
                WHEN g.land_use ~ '(道路|交通|广场)' THEN 'transport'
                ELSE 'other' END AS kind,
           ST_AsMVTGeom(ST_Simplify(ST_Transform(g.geom, 3857), %(tolerance)s, true),
                        ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM unit_grid g
    WHERE g.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)
      AND (g.valid_to IS NULL OR g.valid_to >= current_date)
) AS t
WHERE t.geom IS NOT NULL
