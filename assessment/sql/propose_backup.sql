-- Days of the month (before %(today)s) without a verified backup: no backup finished that local
-- day whose restore was verified (a `verify` row that succeeded). Run when backup_record exists.
WITH m AS (SELECT %(month)s::date AS month, (%(month)s::date + interval '1 month')::date AS next_month),
days AS (
    SELECT d::date AS day FROM m, generate_series(m.month, least(m.next_month, %(today)s::date) - 1, interval '1 day') d
),
verified AS (
    SELECT DISTINCT (b.finished_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM backup_record b JOIN m ON true
    WHERE b.kind <> 'verify' AND b.ok AND b.finished_at >= (m.month::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND b.finished_at < (m.next_month::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND EXISTS (SELECT 1 FROM backup_record v WHERE v.verifies = b.id AND v.kind = 'verify' AND v.ok)
)
INSERT INTO finding (rule_code, count, occurred_at, proposal_key, evidence)
SELECT 'backup_missing', 1, (days.day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai', 'backup_missing:' || days.day,
       jsonb_build_object('record', 'backup', 'day', days.day)
FROM days LEFT JOIN verified v USING (day) WHERE v.day IS NULL
