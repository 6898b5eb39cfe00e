-- Security: web sessions and the counters behind rate limits.
-- depends: 0600_security

-- A web login (登录会话). The cookie carries a random token; only its sha256 is stored, so a copy
-- of this table cannot be replayed as cookies. The CSRF token is per session and sent back by the
-- page in the X-CSRF-Token header of every cookie-authenticated write.
CREATE TABLE app_session (
    token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id      integer NOT NULL REFERENCES app_user ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    client_addr  inet,
    CHECK (expires_at > created_at)
);
CREATE INDEX app_session_user_idx ON app_session (user_id);
CREATE INDEX app_session_expires_idx ON app_session (expires_at);

-- Fixed-window request counters (限流): one row per bucket (e.g. 'intake:203.0.113.7') and
-- window; shared by every server worker because it lives here, not in process memory.
CREATE UNLOGGED TABLE rate_counter (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL DEFAULT 1,
    PRIMARY KEY (bucket, window_start)
);

-- Count one hit; returns the hits in the current window including this one. Old windows of the
-- same bucket are dropped on the way, so the table stays as small as the set of active clients.
CREATE FUNCTION rate_hit(p_bucket text, p_window_seconds integer) RETURNS integer
LANGUAGE sql AS $$
    WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / p_window_seconds) * p_window_seconds) AS start),
    gone AS (DELETE FROM rate_counter r USING w WHERE r.bucket = p_bucket AND r.window_start < w.start)
    INSERT INTO rate_counter AS r (bucket, window_start)
    SELECT p_bucket, start FROM w
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
    RETURNING hits
$$;
