-- The live list of officers (在岗 / 离线): responsibility grids, the last fix and its age, the
-- shift now, the open geofence alert. Positions are read as the caller (row security).
-- status: on_duty (a fix within the offline minutes), offline (none, during a shift), off_shift.
WITH shift AS (SELECT code, name, starts_at, ends_at FROM duty_shift_at(now()))
SELECT o.id, o.code, o.name, o.phone,
       coalesce(g.grids, '[]'::json) AS grids,
       l.recorded_at AS last_fix_at,
       round(extract(epoch FROM now() - l.recorded_at))::bigint AS fix_age_s,
       round(ST_X(l.geom)::numeric, 7)::float8 AS lon, round(ST_Y(l.geom)::numeric, 7)::float8 AS lat,
       l.accuracy_m, l.speed_mps,
       s.status,
       CASE s.status WHEN 'on_duty' THEN '在岗' WHEN 'offline' THEN '离线' ELSE '非工作时段' END AS status_name,
       a.id AS open_alert_id
FROM officer o
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('code', rg.code, 'name', rg.name) ORDER BY rg.code) AS grids
    FROM responsibility_grid rg WHERE rg.officer_id = o.id) g ON true
LEFT JOIN LATERAL (
    SELECT p.recorded_at, p.geom, p.accuracy_m, p.speed_mps FROM officer_position p
    WHERE p.officer_id = o.id ORDER BY p.recorded_at DESC LIMIT 1) l ON true
LEFT JOIN geofence_alert a ON a.officer_id = o.id AND a.ended_at IS NULL AND a.raised_at IS NOT NULL
CROSS JOIN LATERAL (
    SELECT CASE WHEN l.recorded_at >= now() - make_interval(secs => %(offline_s)s) THEN 'on_duty'
                WHEN EXISTS (SELECT 1 FROM shift) THEN 'offline'
                ELSE 'off_shift' END AS status) s
WHERE o.active
  AND (%(q)s::text IS NULL OR o.name ILIKE '%%' || %(q)s || '%%' OR o.code ILIKE %(q)s || '%%')
  AND (%(status)s::text IS NULL OR s.status = %(status)s)
ORDER BY (s.status = 'on_duty') DESC, o.code
