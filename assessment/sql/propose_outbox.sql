-- Case events for the district platform (district_outbox) created in the month and not delivered
-- within the contract's limit (or still undelivered past it). Run when district_outbox exists.
WITH c AS (SELECT * FROM assessment_contract),
m AS (SELECT (%(month)s::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
             ((%(month)s::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends)
INSERT INTO finding (rule_code, count, occurred_at, proposal_key, evidence)
SELECT 'case_late', 1, o.created_at + c.district_report_limit, 'case_late:outbox:' || o.id,
       jsonb_build_object('record', 'district_outbox', 'id', o.id, 'case_id', o.case_id, 'kind', o.kind,
                          'created_at', o.created_at, 'delivered_at', o.delivered_at, 'state', o.state)
FROM district_outbox o, m, c
WHERE o.created_at >= m.starts AND o.created_at < m.ends
  AND coalesce(o.delivered_at, %(now)s) - o.created_at > c.district_report_limit
