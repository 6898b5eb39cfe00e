-- The case categories as a tree (事件分类树) for GET /api/catalog: the GB/T 47678.5 matters (事项)
-- and component classes (部件) a case may be filed under, major class → class, with how many cases
-- (the caller's, row security) carry each code.
SELECT k.kind, k.major_code, k.major_name, k.code, k.name,
       (SELECT count(*) FROM cases c WHERE (c.standard, c.category_kind, c.category_code) = (k.standard, k.kind, k.code)) AS cases
FROM code_catalog k
WHERE k.standard = 'GB/T 47678.5-2026' AND k.kind IN ('matter', 'component')
ORDER BY k.kind DESC, k.major_code, k.code
