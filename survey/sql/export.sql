-- The live component layer for export, each class code also in the target standard (one-to-one
-- mappings only, either way); %(class)s limits it to one class.
WITH reverse AS (
    -- a target class reached from exactly one source class can be translated back
    SELECT to_standard AS standard, to_code AS code, min(from_standard) AS target_standard, min(from_code) AS target_code
    FROM catalog_mapping WHERE from_kind = 'component' AND to_kind = 'component'
    GROUP BY to_standard, to_code HAVING count(*) = 1
), forward AS (
    SELECT from_standard AS standard, from_code AS code, to_standard AS target_standard, to_code AS target_code
    FROM catalog_mapping WHERE from_kind = 'component' AND to_kind = 'component'
)
SELECT c.id, c.standard, c.type_code,
       CASE WHEN c.standard = %(target)s THEN c.type_code ELSE coalesce(f.target_code, r.target_code) END AS target_code,
       c.name, c.dept_code, c.dept_name, c.owner_code, c.owner_name, c.maintainer_code, c.maintainer_name,
       c.unit_grid_code, c.status, to_char(c.initial_date, 'YYYYMMDD') AS initial_date,
       to_char(c.change_date, 'YYYYMMDD') AS change_date, c.data_source, c.note, c.street_code, c.street_name,
       c.community_code, c.community_name, ST_AsBinary(c.geom) AS wkb
FROM component c
LEFT JOIN forward f ON f.standard = c.standard AND f.code = c.type_code AND f.target_standard = %(target)s
LEFT JOIN reverse r ON r.standard = c.standard AND r.code = c.type_code AND r.target_standard = %(target)s
WHERE (%(class)s::text IS NULL OR c.type_code = %(class)s)
ORDER BY c.id
