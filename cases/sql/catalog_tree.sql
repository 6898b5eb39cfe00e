-- The case categories as a tree (事件分类树) for GET /api/catalog: the GB/T 47678.5 matters (事项)
-- and component classes (部件) a case may be filed under, major class → class, with how many cases
-- (the caller's, row security) carry each code: one pass over cases, grouped; a component class
-- also names the geometry it is drawn as (the map's editor draws a new one so).
WITH used AS (
    SELECT standard, category_kind, category_code, count(*) AS n
    FROM cases
    GROUP BY 1, 2, 3
)
SELECT k.kind, k.major_code, k.major_name, k.code, k.name, k.geometry_kind, coalesce(u.n, 0) AS cases
FROM code_catalog k
LEFT JOIN used u ON (u.standard, u.category_kind, u.category_code) = (k.standard, k.kind, k.code)
WHERE k.standard = 'GB/T 47678.5-2026' AND k.kind IN ('matter', 'component')
ORDER BY k.kind DESC, k.major_code, k.code
