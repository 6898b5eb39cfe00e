-- Open311 service requests: cases (not merged ones) with the fields GeoReport v2 names; the WHERE
-- is one of the fixed clauses of cases/open311.py, values travel as parameters.
SELECT c.case_number AS service_request_id, c.is_closed, c.channel, c.workflow, c.workflow_version, c.state,
       c.category_code AS service_code, k.name AS service_name, c.description, d.name AS agency_responsible,
       c.reported_at AS requested_datetime, c.updated_at AS updated_datetime, c.step_deadline_at AS expected_datetime,
       c.address, ST_Y(c.geom) AS lat, ST_X(c.geom) AS long
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
LEFT JOIN department d ON d.code = c.department_code
WHERE c.duplicate_of IS NULL AND {where}
ORDER BY c.reported_at DESC, c.id DESC LIMIT %(limit)s OFFSET %(offset)s
