-- The cases behind one number (下钻): entity × indicator of a revision, each case once.
SELECT c.id, c.case_number, c.state, c.channel, c.category_code, k.name AS category_name, c.reported_at, c.closed_at,
       c.unit_grid_code, c.department_code
FROM evaluation_case e
CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.case_ids) AS id) x
JOIN cases c ON c.id = x.id
LEFT JOIN code_catalog k ON k.standard = c.standard AND k.kind = c.category_kind AND k.code = c.category_code
WHERE e.revision_id = %(rev)s AND e.entity_kind = %(kind)s AND e.entity_code = %(code)s AND e.indicator = %(indicator)s
ORDER BY c.reported_at, c.id
