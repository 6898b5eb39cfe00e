-- One kind's rows of a revision, best first, beside the same entity in the previous period (环比)
-- and a year before (同比); %(prev)s / %(yoy)s are those periods' latest revisions (or null).
SELECT c.entity_code, c.entity_name, c.indicators, c.score, c.grade, c.rank,
       p.score AS prev_score, p.rank AS prev_rank, p.grade AS prev_grade, y.score AS yoy_score
FROM evaluation_result c
LEFT JOIN evaluation_result p ON p.revision_id = %(prev)s AND p.entity_kind = c.entity_kind AND p.entity_code = c.entity_code
LEFT JOIN evaluation_result y ON y.revision_id = %(yoy)s AND y.entity_kind = c.entity_kind AND y.entity_code = c.entity_code
WHERE c.revision_id = %(rev)s AND c.entity_kind = %(kind)s
ORDER BY c.rank, c.entity_code
