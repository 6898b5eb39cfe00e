-- A read-only database role for the district's GeoServer (`civicgrid geoserver publish`, geoserver/):
-- SELECT on exactly what it publishes — the tables of the public collections and the public case view
-- case_public (plus public_redaction, which that view's rounding function reads as its caller) — and
-- nothing else. The administrator makes the login and names it in CIVICGRID_GEOSERVER_DB_URL:
--     CREATE ROLE gs_reader LOGIN PASSWORD '…' IN ROLE civicgrid_geoserver;
-- tests/test_geoserver.py keeps this list equal to the native tables publish sends.
-- depends: 0610_row_security

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'civicgrid_geoserver') THEN
        CREATE ROLE civicgrid_geoserver NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN   -- roles are the cluster's: a concurrent creator wins
    NULL;
END $$;

GRANT USAGE ON SCHEMA public TO civicgrid_geoserver;
GRANT SELECT ON unit_grid, responsibility_grid, community, town, poi, case_public, public_redaction
    TO civicgrid_geoserver;
