-- The cost of DBSCAN's neighbour search before it runs: points per eps-sized cell (4490 degrees
-- scaled to metres at the town's latitude, close enough for an estimate); points within eps of
-- each other ≈ (π/2) Σ count·(count − 1) over the cells, however clustered the points are.
SELECT coalesce(sum(c::bigint * c), 0) AS squares, coalesce(sum(c), 0) AS points
FROM (SELECT count(*) AS c FROM {table} s WHERE {where} AND {point} IS NOT NULL
      GROUP BY floor(ST_X({point}) / %(dx)s), floor(ST_Y({point}) / %(dy)s)) cells
