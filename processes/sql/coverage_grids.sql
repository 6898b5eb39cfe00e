-- Officers with their responsibility grids and how many unit grids those hold.
SELECT o.id AS officer_id, o.name, array_agg(DISTINCT rg.code ORDER BY rg.code) AS grids,
       count(DISTINCT m.unit_grid_code)::int AS unit_grids
FROM officer o
JOIN responsibility_grid rg ON rg.officer_id = o.id
LEFT JOIN responsibility_grid_member m ON m.responsibility_grid_code = rg.code
WHERE %(officer)s::int[] IS NULL OR o.id = ANY(%(officer)s::int[])
GROUP BY o.id, o.name
