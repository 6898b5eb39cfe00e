-- The findings become proposed events once each (proposal_key); a proposal nobody has decided yet
-- follows its finding (count, evidence) and goes when the finding does (the record was completed).
WITH upsert AS (
    INSERT INTO assessment_event (month, rule_code, count, occurred_at, status, source, proposal_key, evidence, created_by)
    SELECT %(month)s, rule_code, count, occurred_at, 'proposed', 'system', proposal_key, evidence, 'system'
    FROM finding
    ON CONFLICT (proposal_key) DO UPDATE SET count = EXCLUDED.count, evidence = EXCLUDED.evidence
        WHERE assessment_event.status = 'proposed'
          AND (assessment_event.count, assessment_event.evidence) IS DISTINCT FROM (EXCLUDED.count, EXCLUDED.evidence)
    RETURNING (xmax = 0) AS inserted
), stale AS (
    DELETE FROM assessment_event e
    WHERE e.month = %(month)s AND e.source = 'system' AND e.status = 'proposed'
      AND NOT EXISTS (SELECT 1 FROM finding f WHERE f.proposal_key = e.proposal_key)
    RETURNING 1
)
SELECT (SELECT count(*) FILTER (WHERE inserted) FROM upsert) AS proposed,
       (SELECT count(*) FILTER (WHERE NOT inserted) FROM upsert) AS updated,
       (SELECT count(*) FROM stale) AS withdrawn
