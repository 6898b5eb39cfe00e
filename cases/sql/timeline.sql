-- A case's events in order, each with its photos (the case page's timeline, 处置过程), the actor's
-- name beside his login name (a user's display name; a grid officer's name when the actor is his
-- officer code, as in bulk-loaded and district events), and where the actor stood if the action
-- carried a position: lon/lat, the accuracy claimed and the distance to the case's place.
SELECT e.seq, e.action, e.from_state, e.to_state, e.actor,
       coalesce(nullif(u.display_name, ''), ou.name, o.name, e.actor) AS actor_name,
       e.actor_role, e.at, e.comment, e.data - 'set' AS data,
       coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role,
                        'url', '/api/attachments/' || a.sha256) ORDER BY a.role, a.sha256)
                 FROM case_attachment a WHERE a.case_id = e.case_id AND a.seq = e.seq), '[]') AS attachments,
       CASE WHEN e.position IS NOT NULL THEN jsonb_build_object(
           'lon', round(ST_X(e.position)::numeric, 7), 'lat', round(ST_Y(e.position)::numeric, 7),
           'accuracy_m', e.position_accuracy_m,
           'distance_m', round(ST_Distance(e.position::geography, c.geom::geography)::numeric, 1)) END AS position
FROM case_event e
JOIN cases c ON c.id = e.case_id
LEFT JOIN app_user u ON u.username = e.actor
LEFT JOIN officer ou ON ou.id = u.officer_id
LEFT JOIN officer o ON u.id IS NULL AND e.actor_role = 'grid_officer' AND o.code = e.actor
WHERE e.case_id = %s
ORDER BY e.seq
