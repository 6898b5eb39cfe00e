-- The audit log for admins, newest first, keyset-paged by id; every filter optional.
SELECT id, at, actor, actor_role, action, target, host(client_addr) AS client_addr, detail
FROM audit_log
WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(action)s::text IS NULL OR action LIKE %(action)s || '%%')
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
ORDER BY id DESC
LIMIT %(limit)s
