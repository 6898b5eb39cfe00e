-- One entity over the periods of a kind (each period's latest revision), oldest first.
SELECT p.id AS period_id, p.code, p.name, p.start_at, p.revision, p.state, r.score, r.grade, r.rank
FROM evaluation_period_latest p
JOIN evaluation_result r ON r.revision_id = p.revision_id AND r.entity_kind = %(kind)s AND r.entity_code = %(code)s
WHERE p.kind = %(period_kind)s
ORDER BY p.start_at
