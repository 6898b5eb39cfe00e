-- The role is the cluster's (other databases may use it): only this database's grants go.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'civicgrid_geoserver') THEN
        REVOKE SELECT ON unit_grid, responsibility_grid, community, town, poi, case_public, public_redaction
            FROM civicgrid_geoserver;
        REVOKE USAGE ON SCHEMA public FROM civicgrid_geoserver;
    END IF;
END $$;
