-- Without the district outbox: cases received from the district platform (channel district) in
-- the month that were not filed (立案, taken into the town's flow) within the contract's limit.
WITH c AS (SELECT * FROM assessment_contract),
m AS (SELECT (%(month)s::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
             ((%(month)s::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends)
INSERT INTO finding (rule_code, count, occurred_at, proposal_key, evidence)
SELECT 'case_late', 1, k.reported_at + c.district_report_limit, 'case_late:case:' || k.id,
       jsonb_build_object('record', 'district_case', 'id', k.id, 'case_number', k.case_number,
                          'reported_at', k.reported_at, 'filed_at', k.filed_at)
FROM cases k, m, c
WHERE k.channel = 'district' AND k.reported_at >= m.starts AND k.reported_at < m.ends
  AND coalesce(k.filed_at, %(now)s) - k.reported_at > c.district_report_limit
