-- A case's events in order, each with its photos (the case page's timeline, 处置过程), the actor's
-- name beside his login name (a user's display name; a grid officer's name when the actor is his
-- officer code, as in bulk-loaded and district events), and where the actor stood if the action
-- carried a position: lon/lat, the accuracy claimed and the distance to the case's place.
-- A report merged into this case (重复案件合并: the other case's `merge` event) is shown here too as
-- `merged_in` (no seq: it is the other case's event), after this case's last event at the time of the
-- merge, with the merged case's number, description and photos.
SELECT seq, action, from_state, to_state, actor, actor_name, actor_role, at, comment, data, attachments, position FROM (
SELECT e.seq, e.action, e.from_state, e.to_state, e.actor,
       coalesce(nullif(u.display_name, ''), ou.name, o.name, e.actor) AS actor_name,
       e.actor_role, e.at, e.comment, e.data - 'set' AS data,
       coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role,
                        'url', '/api/attachments/' || a.sha256) ORDER BY a.role, a.sha256)
                 FROM case_attachment a WHERE a.case_id = e.case_id AND a.seq = e.seq), '[]') AS attachments,
       CASE WHEN e.position IS NOT NULL THEN jsonb_build_object(
           'lon', round(ST_X(e.position)::numeric, 7), 'lat', round(ST_Y(e.position)::numeric, 7),
           'accuracy_m', e.position_accuracy_m,
           'distance_m', round(ST_Distance(e.position::geography, c.geom::geography)::numeric, 1)) END AS position,
       e.seq::numeric AS o
FROM case_event e
JOIN cases c ON c.id = e.case_id
LEFT JOIN app_user u ON u.username = e.actor
LEFT JOIN officer ou ON ou.id = u.officer_id
LEFT JOIN officer o ON u.id IS NULL AND e.actor_role = 'grid_officer' AND o.code = e.actor
WHERE e.case_id = %(id)s
UNION ALL
SELECT NULL, 'merged_in', NULL, NULL, e.actor, coalesce(nullif(u.display_name, ''), ou.name, e.actor),
       e.actor_role, e.at, e.comment,
       jsonb_strip_nulls(jsonb_build_object('merged_case', m.case_number, 'merged_case_id', m.id,
                                            'description', m.description)),
       coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role,
                        'url', '/api/attachments/' || a.sha256) ORDER BY a.role, a.sha256)
                 FROM case_attachment a WHERE a.case_id = m.id), '[]'),
       NULL,
       coalesce((SELECT max(t.seq) FROM case_event t WHERE t.case_id = %(id)s AND t.at <= e.at), 0) + 0.5
FROM cases m
JOIN case_event e ON e.case_id = m.id AND e.action = 'merge' AND e.to_state = m.state
LEFT JOIN app_user u ON u.username = e.actor
LEFT JOIN officer ou ON ou.id = u.officer_id
WHERE m.duplicate_of = %(id)s
) t
ORDER BY o
