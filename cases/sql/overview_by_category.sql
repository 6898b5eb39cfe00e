-- The leaders' overview: the 30 most reported categories, with how many are still open.
SELECT c.category_code, k.name AS category_name, count(*) AS n, count(*) FILTER (WHERE NOT c.is_closed) AS open
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
GROUP BY 1, 2
ORDER BY n DESC
LIMIT 30
