-- Geofence alerts (raised ones only) with their officer, grid, shift and Chinese names; newest first.
-- Filters: status ('open' | 'closed' | NULL), officer, started in [from, to), acknowledged, ids, changed
-- since; keyset paging by id (before).
SELECT a.id, a.officer_id, o.code AS officer_code, o.name AS officer_name,
       a.responsibility_grid_code, rg.name AS responsibility_grid_name,
       a.shift_code, sh.name AS shift_name,
       a.started_at, a.last_seen_at, a.raised_at, a.ended_at, a.end_reason, er.name AS end_reason_name,
       CASE WHEN a.ended_at IS NULL THEN 'open' ELSE 'closed' END AS status,
       CASE WHEN a.ended_at IS NULL THEN '越界中' ELSE '已结束' END AS status_name,
       round((extract(epoch FROM coalesce(a.ended_at, a.last_seen_at) - a.started_at) / 60)::numeric, 1)::float8 AS minutes,
       round(a.max_distance_m::numeric, 1)::float8 AS max_distance_m, a.fixes,
       round(ST_X(a.geom)::numeric, 7)::float8 AS lon, round(ST_Y(a.geom)::numeric, 7)::float8 AS lat,
       a.acknowledged_at IS NOT NULL AS acknowledged,
       CASE WHEN a.acknowledged_at IS NULL THEN '未确认' ELSE '已确认' END AS acknowledged_name,
       a.acknowledged_by, a.acknowledged_at, a.ack_comment, a.updated_at
FROM geofence_alert a
JOIN officer o ON o.id = a.officer_id
LEFT JOIN responsibility_grid rg ON rg.code = a.responsibility_grid_code
LEFT JOIN duty_shift sh ON sh.code = a.shift_code
LEFT JOIN geofence_end_reason er ON er.code = a.end_reason
WHERE a.raised_at IS NOT NULL
  AND (%(status)s::text IS NULL OR (%(status)s = 'open') = (a.ended_at IS NULL))
  AND (%(officer)s::int IS NULL OR a.officer_id = %(officer)s)
  AND (%(from)s::timestamptz IS NULL OR a.started_at >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR a.started_at < %(to)s)
  AND (%(acknowledged)s::boolean IS NULL OR (a.acknowledged_at IS NOT NULL) = %(acknowledged)s)
  AND (%(ids)s::bigint[] IS NULL OR a.id = ANY (%(ids)s::bigint[]))
  AND (%(since)s::timestamptz IS NULL OR a.updated_at > %(since)s)
  AND (%(before)s::bigint IS NULL OR a.id < %(before)s)
ORDER BY a.id DESC
LIMIT %(limit)s
