-- The exchange at a glance (监控): backlog and its age, retries, dead letters, throughput and the
-- on-time rate of district reporting (上报及时率: events delivered within %(on_time)s minutes of the
-- change) over the last %(days)s days.
SELECT
    count(*) FILTER (WHERE state IN ('pending', 'delivering'))                          AS pending,
    count(*) FILTER (WHERE state IN ('pending', 'delivering') AND attempts > 0)          AS retrying,
    count(*) FILTER (WHERE state = 'dead')                                               AS dead,
    count(*) FILTER (WHERE state = 'delivered')                                          AS delivered,
    coalesce(sum(greatest(attempts - 1, 0)) FILTER (WHERE state = 'delivered'), 0)
        + coalesce(sum(attempts) FILTER (WHERE state <> 'delivered'), 0)                 AS failed_attempts,
    extract(epoch FROM now() - min(created_at) FILTER (WHERE state <> 'delivered'))      AS oldest_undelivered_s,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at))
        FILTER (WHERE state = 'delivered')                                               AS lag_p50_s,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at))
        FILTER (WHERE state = 'delivered')                                               AS lag_p95_s,
    count(*) FILTER (WHERE delivered_at > now() - interval '1 hour')                     AS delivered_last_hour,
    count(*) FILTER (WHERE state = 'delivered'
                     AND delivered_at - created_at <= %(on_time)s * interval '1 minute') AS on_time,
    count(*) FILTER (WHERE state = 'delivered' OR created_at < now() - %(on_time)s * interval '1 minute')
                                                                                         AS due
FROM district_outbox
WHERE created_at > now() - %(days)s * interval '1 day'
