-- One kind's average score over the last 12 periods up to and including %(until)s (latest revisions).
SELECT * FROM (
    SELECT p.code, p.start_at, round(avg(r.score), 2) AS avg_score
    FROM evaluation_period_latest p
    JOIN evaluation_result r ON r.revision_id = p.revision_id AND r.entity_kind = %(kind)s
    WHERE p.kind = %(period_kind)s AND p.start_at <= %(until)s
    GROUP BY p.code, p.start_at
    ORDER BY p.start_at DESC LIMIT 12
) t ORDER BY start_at
