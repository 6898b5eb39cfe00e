-- The filtered points for the in-process DBSCAN, in one row: a WKB MultiPoint (EPSG:4490; the
-- projection to 4548 is done in numpy, several times faster than ST_Transform per row) and the
-- labels (category codes) in the same order: both aggregates consume the same rows.
SELECT ST_AsBinary(ST_Collect(g)) AS wkb, array_agg(label) AS labels, count(*) AS n
FROM (SELECT {point} AS g, {label} AS label FROM {table} s WHERE {where} AND {point} IS NOT NULL) pts
