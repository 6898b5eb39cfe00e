-- The leaders' overview: cases reported and closed today (the local day, Asia/Shanghai).
SELECT count(*) FILTER (WHERE reported_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                              AT TIME ZONE 'Asia/Shanghai') AS intake,
       count(*) FILTER (WHERE closed_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
                                            AT TIME ZONE 'Asia/Shanghai') AS closed
FROM cases
