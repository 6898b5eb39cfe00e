-- Fixes per officer and local day, with the unit grid each falls in when it is one of the
-- officer's own (for coverage), and whether it is inside the officer's fence (电子围栏: their
-- responsibility grids, widened by %(tol)s m). The unit grid comes from one index lookup per fix;
-- only fixes outside the officer's own grids pay for the distance to the fence.
WITH own AS (
    SELECT m.unit_grid_code AS code, rg.officer_id
    FROM responsibility_grid_member m JOIN responsibility_grid rg ON rg.code = m.responsibility_grid_code
    WHERE rg.officer_id IS NOT NULL
), fence AS (
    SELECT officer_id, ST_Transform(ST_Union(geom), 4548) AS g
    FROM responsibility_grid WHERE officer_id IS NOT NULL AND geom IS NOT NULL
    GROUP BY officer_id
), pts AS MATERIALIZED (
    SELECT p.officer_id, p.recorded_at, ST_Transform(p.geom, 4548) AS q,
           (SELECT g.code FROM unit_grid g WHERE g.geom && p.geom AND ST_Intersects(g.geom, p.geom) LIMIT 1) AS grid
    FROM officer_position p
    WHERE p.recorded_at >= %(start)s AND p.recorded_at < %(end)s
      AND (%(officer)s::int[] IS NULL OR p.officer_id = ANY(%(officer)s::int[]))
)
SELECT pts.officer_id, (pts.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, extract(epoch FROM pts.recorded_at) AS t,
       ST_X(pts.q) AS x, ST_Y(pts.q) AS y,
       CASE WHEN o.code IS NOT NULL THEN true
            WHEN f.g IS NULL THEN false
            ELSE ST_DWithin(f.g, pts.q, %(tol)s) END AS inside,
       o.code AS unit_grid
FROM pts
LEFT JOIN own o ON o.code = pts.grid AND o.officer_id = pts.officer_id
LEFT JOIN fence f ON f.officer_id = pts.officer_id
ORDER BY pts.officer_id, day, pts.recorded_at
