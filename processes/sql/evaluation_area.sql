-- 区域评价 per {key} (unit grid, community or responsibility grid), every area listed (zeros too).
, counts AS (
    SELECT {key} AS code,
           count(*) FILTER (WHERE filed_in) AS filed,
           count(*) FILTER (WHERE filed_in AND closed_at IS NOT NULL) AS closed,
           -- on time: closed, and handled (feedback) no later than the deadline; no deadline → on time
           count(*) FILTER (WHERE filed_in AND closed_at IS NOT NULL
                            AND (deadline_at IS NULL OR coalesce(handled_at, closed_at) <= deadline_at)) AS on_time_closed,
           count(*) FILTER (WHERE filed_in AND reworks > 0) AS reworked,
           count(*) FILTER (WHERE filed_in AND is_public) AS public_reports
    FROM facts GROUP BY 1
)
SELECT a.code, a.name, coalesce(c.filed, 0)::int AS filed, coalesce(c.closed, 0)::int AS closed,
       coalesce(c.on_time_closed, 0)::int AS on_time_closed, coalesce(c.reworked, 0)::int AS reworked,
       coalesce(c.public_reports, 0)::int AS public_reports,
       ST_AsGeoJSON(a.geom, 7, 0) AS geom
FROM {areas} a LEFT JOIN counts c ON c.code = a.code
ORDER BY a.code
