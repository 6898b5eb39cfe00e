-- Row-level visibility enforced by PostgreSQL (who sees which cases, case rows and positions), and the public redaction of cases.
--
-- Every web request's transaction calls security_enter(user_id): it records who is asking in
-- transaction-local settings and switches to the NOLOGIN role civicgrid_web, whose row-level
-- security policies decide which cases, case rows and officer positions the request can see.
-- The login role owns the tables, so it bypasses RLS (no FORCE on purpose): the CLI, the timer
-- worker, the demo loader, processes and the layers pool keep seeing everything.
-- depends: 0600_security 0100_cases 0400_ogc_views 0450_tile_cache

-- ---------------------------------------------------------------- the application's database role

-- Roles are cluster-wide and many databases of one cluster migrate at once (tests): create it
-- only if missing and let a concurrent creator win.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'civicgrid_web') THEN
        CREATE ROLE civicgrid_web NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- the login role must be a member to SET ROLE (a superuser already may; granting again is a notice)
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'civicgrid_web', 'MEMBER') THEN
        EXECUTE format('GRANT civicgrid_web TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

GRANT USAGE ON SCHEMA public TO civicgrid_web;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO civicgrid_web;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO civicgrid_web;
-- tables, views and sequences made later by the login role (later migrations, new position partitions)
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO civicgrid_web;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO civicgrid_web;
-- functions: EXECUTE stays granted to PUBLIC (the default)

-- The audit log is append-only for the application (0600 also refuses UPDATE/DELETE by trigger).
REVOKE ALL ON audit_log FROM civicgrid_web;
GRANT SELECT, INSERT ON audit_log TO civicgrid_web;

-- Identities: the request path reads them and changes only the login counters, the re-hashed
-- password (security/identity.py verify_password, set_password) and a key's last use
-- (authenticate_key). Managing users and keys runs on the owner connection (CLI) for now.
REVOKE ALL ON app_user, api_key, app_user_role, app_role FROM civicgrid_web;
GRANT SELECT ON app_user, api_key, app_user_role, app_role TO civicgrid_web;
GRANT UPDATE (failed_logins, locked_until, password_hash) ON app_user TO civicgrid_web;
GRANT UPDATE (last_used_at) ON api_key TO civicgrid_web;

-- Bookkeeping the web never writes: the migration log and PostGIS's reference table.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')
               AND (c.relname ~ '^_?yoyo' OR c.relname = 'spatial_ref_sys') LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM civicgrid_web', t);
    END LOOP;
END $$;

-- Partitions of officer_position would bypass the parent's policies if queried by name; the web
-- only ever reads the parent. (Partitions created later get the default grants: see the report.)
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'officer_position'::regclass LOOP
        EXECUTE format('REVOKE ALL ON %s FROM civicgrid_web', t);
    END LOOP;
END $$;

-- ---------------------------------------------------------------- who is asking (transaction-local)

-- Fail closed: a missing or empty setting is the anonymous caller, who sees no case rows.
CREATE FUNCTION cg_roles() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_to_array(nullif(current_setting('civicgrid.roles', true), ''), ','), '{}'::text[])
$$;

CREATE FUNCTION cg_has_role(role_code text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT role_code = ANY (cg_roles())
$$;

CREATE FUNCTION cg_department() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('civicgrid.department', true), '')
$$;

CREATE FUNCTION cg_officer_id() RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('civicgrid.officer_id', true), '')::integer
$$;

-- Officer positions: leaders and the command center (指挥中心) — the group
-- `command_center` of security/access.yml (tests/test_security_rows.py compares them).
CREATE FUNCTION cg_position_reader_roles() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['admin', 'intake_operator', 'shift_leader', 'dispatcher', 'leader']
$$;

-- Every case: the command center and the evaluator (考核员), who scores on all cases.
CREATE FUNCTION cg_all_case_roles() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cg_position_reader_roles() || 'evaluator'::text
$$;

CREATE FUNCTION cg_sees_all_cases() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT cg_roles() && cg_all_case_roles()
$$;

CREATE FUNCTION cg_sees_all_positions() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT cg_roles() && cg_position_reader_roles()
$$;

-- Cases ever dispatched to the caller's department, from the events' `data.set` (the engine and
-- the demo loader write it). Without them a handler's own 退回 (which clears department_code)
-- would fail: UPDATE … RETURNING must leave the row visible. SECURITY DEFINER reads case_event
-- past its policy, which itself refers to cases (a policy cycle otherwise).
CREATE FUNCTION cg_department_case_ids() RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT e.case_id FROM case_event e
    WHERE e.data -> 'set' ? 'department_code'          -- the partial index's predicate
      AND (e.data -> 'set' ->> 'department_code') = cg_department()
$$;
CREATE INDEX case_event_set_department_idx ON case_event ((data -> 'set' ->> 'department_code'))
    WHERE data -> 'set' ? 'department_code';

-- ---------------------------------------------------------------- entering a request

-- security_enter(user_id): call first in every web request's transaction. NULL = anonymous
-- (role 'public'); an unknown or disabled user raises insufficient_privilege. Sets, local to the
-- transaction: civicgrid.user_id, .roles (comma list), .department, .officer_id, .actor, then the
-- role civicgrid_web. Not SECURITY DEFINER: SET ROLE is refused inside those. Outside an explicit
-- transaction (autocommit) everything it sets ends with its own statement, so it cannot leak
-- into the next request of a pooled connection — and it does nothing useful either.
CREATE FUNCTION security_enter(p_user_id integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u record;
    v_roles text;
BEGIN
    -- once inside, the identity of the transaction is fixed (a second call for the same user is fine)
    IF current_user = 'civicgrid_web'
       AND coalesce(current_setting('civicgrid.user_id', true), '') IS DISTINCT FROM coalesce(p_user_id::text, '') THEN
        RAISE EXCEPTION 'security_enter: this transaction already acts for another user'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_user_id IS NULL THEN
        PERFORM set_config('civicgrid.user_id', '', true);
        PERFORM set_config('civicgrid.roles', 'public', true);
        PERFORM set_config('civicgrid.department', '', true);
        PERFORM set_config('civicgrid.officer_id', '', true);
        PERFORM set_config('civicgrid.actor', 'anonymous', true);
    ELSE
        SELECT a.id, a.username, a.disabled, a.department_code, a.officer_id INTO u
        FROM app_user a WHERE a.id = p_user_id;
        IF NOT FOUND OR u.disabled THEN
            RAISE EXCEPTION 'security_enter: user % is unknown or disabled', p_user_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT string_agg(r.role_code, ',' ORDER BY r.role_code) INTO v_roles
        FROM app_user_role r WHERE r.user_id = p_user_id;
        PERFORM set_config('civicgrid.user_id', u.id::text, true);
        PERFORM set_config('civicgrid.roles', coalesce(v_roles, ''), true);   -- no roles: sees nothing
        PERFORM set_config('civicgrid.department', coalesce(u.department_code, ''), true);
        PERFORM set_config('civicgrid.officer_id', coalesce(u.officer_id::text, ''), true);
        PERFORM set_config('civicgrid.actor', u.username, true);
    END IF;
    PERFORM set_config('role', 'civicgrid_web', true);
END $$;

-- ---------------------------------------------------------------- row-level security

-- Each role test is wrapped in a scalar sub-select so it runs once per query (an InitPlan), and the
-- command-center test comes first: for those roles the filter is a parameter check per row and the
-- plan keeps its index scans.
ALTER TABLE cases ENABLE ROW LEVEL SECURITY;

CREATE POLICY cases_select ON cases FOR SELECT TO civicgrid_web USING (
    (SELECT cg_sees_all_cases())
    OR ((SELECT cg_has_role('department_handler'))
        AND (department_code = (SELECT cg_department()) OR id IN (SELECT cg_department_case_ids())))
    OR ((SELECT cg_has_role('grid_officer'))
        AND (responsibility_grid_code IN (SELECT g.code FROM responsibility_grid g WHERE g.officer_id = (SELECT cg_officer_id()))
             OR reporter_officer_id = (SELECT cg_officer_id())))
    OR ((SELECT cg_has_role('district_platform')) AND channel = 'district')
);
CREATE POLICY cases_update ON cases FOR UPDATE TO civicgrid_web USING (
    (SELECT cg_sees_all_cases())
    OR ((SELECT cg_has_role('department_handler'))
        AND (department_code = (SELECT cg_department()) OR id IN (SELECT cg_department_case_ids())))
    OR ((SELECT cg_has_role('grid_officer'))
        AND (responsibility_grid_code IN (SELECT g.code FROM responsibility_grid g WHERE g.officer_id = (SELECT cg_officer_id()))
             OR reporter_officer_id = (SELECT cg_officer_id())))
    OR ((SELECT cg_has_role('district_platform')) AND channel = 'district')
);
-- intake authorises in Python; INSERT … RETURNING still needs the new row to be visible (so an
-- anonymous intake must run on the owner connection, see security/rows.py)
CREATE POLICY cases_insert ON cases FOR INSERT TO civicgrid_web WITH CHECK (true);
-- no DELETE policy: the web never deletes cases

-- The rows of a case are visible when the case is (the sub-select on cases applies its policy; it is
-- a primary-key probe). INSERT is open: intake writes the case and its event, photos, timers and
-- duplicate suggestions in one statement whose snapshot cannot see the new case, and the engine
-- reads the case under RLS (FOR UPDATE) before it writes anything.
ALTER TABLE case_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_event_select ON case_event FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_event.case_id));
CREATE POLICY case_event_insert ON case_event FOR INSERT TO civicgrid_web WITH CHECK (true);

ALTER TABLE case_attachment ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_attachment_select ON case_attachment FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_attachment.case_id));
CREATE POLICY case_attachment_insert ON case_attachment FOR INSERT TO civicgrid_web WITH CHECK (true);

ALTER TABLE case_timer ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_timer_select ON case_timer FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_timer.case_id));
CREATE POLICY case_timer_insert ON case_timer FOR INSERT TO civicgrid_web WITH CHECK (true);
-- timers fire in the worker (owner): no UPDATE for the web

ALTER TABLE case_duplicate ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_duplicate_select ON case_duplicate FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_duplicate.case_id));
CREATE POLICY case_duplicate_insert ON case_duplicate FOR INSERT TO civicgrid_web WITH CHECK (true);

-- alerts are written by the timer worker (owner) only
ALTER TABLE case_alert ENABLE ROW LEVEL SECURITY;
CREATE POLICY case_alert_select ON case_alert FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = case_alert.case_id));

-- Officer positions (网格员轨迹): the command center and leaders; a grid officer his own track.
-- No web route writes positions, so there is no INSERT policy.
ALTER TABLE officer_position ENABLE ROW LEVEL SECURITY;
CREATE POLICY officer_position_select ON officer_position FOR SELECT TO civicgrid_web USING (
    (SELECT cg_sees_all_positions())
    OR ((SELECT cg_has_role('grid_officer')) AND officer_id = (SELECT cg_officer_id()))
);
-- the latest-position view reads positions as its caller, so the policy above binds it too
ALTER VIEW ogc_officer_latest SET (security_invoker = true);

-- ---------------------------------------------------------------- public redaction of cases

-- One row: the grid (metres, EPSG:4548) public case locations snap to; NULL = exact.
CREATE TABLE public_redaction (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    location_grid_m integer CHECK (location_grid_m IS NULL OR location_grid_m BETWEEN 10 AND 1000)
);
INSERT INTO public_redaction (id, location_grid_m) VALUES (true, NULL);
REVOKE ALL ON public_redaction FROM civicgrid_web;
GRANT SELECT, UPDATE ON public_redaction TO civicgrid_web;

-- Staff = any role besides the public and the district platform. Unknown readers (no settings:
-- the layers pool, the tile renderer) are not staff, so they get rounded locations.
CREATE FUNCTION cg_reader_is_staff() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM unnest(cg_roles()) AS r WHERE r NOT IN ('public', 'district_platform'))
$$;

-- The grid to snap to for this reader, NULL for exact locations.
CREATE FUNCTION cg_public_grid_m() RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.location_grid_m FROM public_redaction p WHERE NOT cg_reader_is_staff()
$$;

CREATE FUNCTION cg_public_point(g geometry, grid_m integer) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_Transform(ST_SnapToGrid(ST_Transform(g, 4548), grid_m), 4490)::geometry(Point, 4490)
$$;

-- Cached case tiles were rendered with the old setting.
CREATE FUNCTION public_redaction_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tile_cache WHERE layer = 'cases';
    INSERT INTO tile_layer_version AS v (layer, version, changed_at) VALUES ('cases', 1, now())
    ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END $$;
CREATE TRIGGER public_redaction_changed AFTER UPDATE ON public_redaction
    FOR EACH STATEMENT EXECUTE FUNCTION public_redaction_changed();

-- Both public views: two branches, exactly one of which runs (a one-time filter). The exact branch
-- exposes cases.geom itself, so `geom && envelope` (tiles, bbox) keeps using the GiST index; the
-- rounded branch exists only while rounding is configured and the reader is not staff.
-- Neither view has reporter_name, reporter_phone, reporter_officer_id, description, external_id
-- or any event comment. They are owned by the owner and read cases past RLS: they ARE the public view.
CREATE OR REPLACE VIEW case_public AS
SELECT c.id, c.case_number, c.channel, c.standard, c.category_kind, c.category_code, k.name AS category_name,
       c.urgency, c.workflow, c.state, c.is_closed, c.community_code, c.unit_grid_code, c.department_code,
       c.reported_at, c.closed_at, c.step_deadline_at,
       CASE WHEN c.is_closed OR c.step_deadline_at IS NULL THEN NULL
            WHEN now() >= c.step_deadline_at THEN 'red'
            WHEN now() >= c.step_warn_at THEN 'yellow'
            ELSE 'green' END AS sla_color,
       c.geom
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
WHERE c.duplicate_of IS NULL AND (SELECT cg_public_grid_m()) IS NULL
UNION ALL
SELECT c.id, c.case_number, c.channel, c.standard, c.category_kind, c.category_code, k.name AS category_name,
       c.urgency, c.workflow, c.state, c.is_closed, c.community_code, c.unit_grid_code, c.department_code,
       c.reported_at, c.closed_at, c.step_deadline_at,
       CASE WHEN c.is_closed OR c.step_deadline_at IS NULL THEN NULL
            WHEN now() >= c.step_deadline_at THEN 'red'
            WHEN now() >= c.step_warn_at THEN 'yellow'
            ELSE 'green' END AS sla_color,
       cg_public_point(c.geom, (SELECT cg_public_grid_m()))::geometry(Point, 4490)
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
WHERE c.duplicate_of IS NULL AND (SELECT cg_public_grid_m()) IS NOT NULL;

CREATE OR REPLACE VIEW ogc_cases AS
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, c.address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, c.geom
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NULL
UNION ALL
-- rounded locations: the street address would give the exact place (and may be a caller's home) away
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, NULL::text AS address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, cg_public_point(c.geom, (SELECT cg_public_grid_m()))::geometry(Point, 4490)
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NOT NULL;

GRANT SELECT ON case_public, ogc_cases TO civicgrid_web;
