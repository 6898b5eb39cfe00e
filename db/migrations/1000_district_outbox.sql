-- District exchange (多网融合): a transactional outbox of what the district platform must learn, the
-- inbound messages it sent us, and a change feed of the collections it syncs.
--
-- Every case event (report, state change, closure, 催办/督办 and their answers, photos) is copied into
-- district_outbox by a trigger on case_event, so the outgoing message commits or rolls back with the
-- change itself. Events the district itself caused (its pushes and instructions) are not echoed back.
-- The delivery worker (civicgrid.exchange.outbox) claims rows per case in order with advisory locks
-- and FOR UPDATE SKIP LOCKED; a row that failed too often becomes `dead` and holds back its case's
-- later rows until someone re-sends it (order per case is the promise).

CREATE TABLE district_outbox (
    id              bigserial PRIMARY KEY,
    case_id         bigint REFERENCES cases(id) ON DELETE CASCADE,
    event_seq       integer,                   -- the case_event it carries (order within the case)
    kind            text NOT NULL,             -- case.reported | case.state_changed | case.closed | case.event
    idempotency_key text UNIQUE NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivering', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    response        jsonb,                     -- what the district answered (e.g. its own request id)
    resent_by       text,                      -- who re-sent a dead letter (and when: resent_at)
    resent_at       timestamptz
);
-- the worker's claim and the per-case delivery state read only what is not delivered yet
CREATE INDEX district_outbox_open_idx ON district_outbox (case_id, id) WHERE state <> 'delivered';
CREATE INDEX district_outbox_case_idx ON district_outbox (case_id, id);
CREATE INDEX district_outbox_created_idx ON district_outbox (created_at);

CREATE FUNCTION district_outbox_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- bulk loads of history (the demo town) are not news for the district
    IF coalesce(current_setting('civicgrid.outbox', true), '') = 'off' THEN
        RETURN NULL;
    END IF;
    INSERT INTO district_outbox (case_id, event_seq, kind, idempotency_key, payload)
    SELECT e.case_id, e.seq,
           CASE WHEN e.action = 'report' THEN 'case.reported'
                WHEN e.to_state IS DISTINCT FROM e.from_state AND c.is_closed AND c.state = e.to_state THEN 'case.closed'
                WHEN e.to_state IS DISTINCT FROM e.from_state THEN 'case.state_changed'
                ELSE 'case.event' END,
           c.case_number || '-' || e.seq,
           jsonb_build_object(
               'event', jsonb_build_object('seq', e.seq, 'action', e.action, 'from_state', e.from_state,
                   'to_state', e.to_state, 'at', e.at, 'actor_role', e.actor_role, 'comment', e.comment,
                   'data', e.data - 'set'),
               'case', jsonb_build_object('id', c.id, 'case_number', c.case_number, 'external_id', c.external_id,
                   'channel', c.channel, 'standard', c.standard, 'category_kind', c.category_kind,
                   'category_code', c.category_code, 'urgency', c.urgency, 'state', c.state,
                   'is_closed', c.is_closed, 'description', c.description, 'address', c.address,
                   'lon', ST_X(c.geom), 'lat', ST_Y(c.geom), 'unit_grid_code', c.unit_grid_code,
                   'community_code', c.community_code, 'department_code', c.department_code,
                   'component_id', c.component_id, 'reported_at', c.reported_at, 'deadline_at', c.deadline_at,
                   'closed_at', c.closed_at, 'version', c.version),
               'attachments', coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', a.sha256, 'role', a.role)
                                                          ORDER BY a.sha256)
                                        FROM case_attachment a WHERE a.case_id = e.case_id AND a.seq = e.seq), '[]'))
    FROM new_events e JOIN cases c ON c.id = e.case_id
    WHERE e.actor_role <> 'district_platform'
    ORDER BY e.case_id, e.seq;
    IF FOUND THEN
        PERFORM pg_notify('district_outbox', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_event_district_outbox AFTER INSERT ON case_event
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION district_outbox_enqueue();

-- Messages the district sent us (督办, 退回, closure confirmation, 回访 results): one row per message
-- id, so a message sent twice lands once and gets the same answer.
CREATE TABLE district_inbound (
    message_id  text PRIMARY KEY CHECK (message_id ~ '^[A-Za-z0-9_.:-]{1,80}$'),
    kind        text NOT NULL,
    case_id     bigint REFERENCES cases(id) ON DELETE CASCADE,
    event_seq   integer,
    received_at timestamptz NOT NULL DEFAULT now(),
    body        jsonb NOT NULL
);

-- Who reads what: the outbox and inbound tables through their API (the application's role); a
-- case's delivery state is shown with the case, so the web role may read the rows of the cases it
-- sees.
REVOKE ALL ON district_outbox, district_inbound FROM civicgrid_web;
GRANT SELECT ON district_outbox TO civicgrid_web;
ALTER TABLE district_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY district_outbox_by_case ON district_outbox FOR SELECT TO civicgrid_web
    USING (EXISTS (SELECT 1 FROM cases c WHERE c.id = district_outbox.case_id));
