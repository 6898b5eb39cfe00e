-- The plans (标绘方案) the caller may see (row security has been entered), newest change first,
-- with their owner and number of shapes; %(id)s NULL for all of them.
SELECT p.id, p.name, p.visibility, p.role, u.username AS owner, coalesce(nullif(u.display_name, ''), u.username) AS owner_name,
       p.owner_id = cg_user_id() AS mine, p.created_at, p.updated_at, p.version,
       (SELECT count(*) FROM annotation a WHERE a.plan_id = p.id) AS feature_count
FROM annotation_plan p
JOIN app_user u ON u.id = p.owner_id
WHERE %(id)s::bigint IS NULL OR p.id = %(id)s::bigint
ORDER BY p.updated_at DESC, p.id DESC
LIMIT 1000
