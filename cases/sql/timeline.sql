-- A case's events in order, each with its photos (the case page's timeline, 处置过程) and the
-- actor's display name beside his login name.
SELECT e.seq, e.action, e.from_state, e.to_state, e.actor, coalesce(nullif(u.display_name, ''), e.actor) AS actor_name,
       e.actor_role, e.at, e.comment, e.data - 'set' AS data,
       coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role,
                        'url', '/api/attachments/' || a.sha256) ORDER BY a.role, a.sha256)
                 FROM case_attachment a WHERE a.case_id = e.case_id AND a.seq = e.seq), '[]') AS attachments
FROM case_event e
LEFT JOIN app_user u ON u.username = e.actor
WHERE e.case_id = %s
ORDER BY e.seq
