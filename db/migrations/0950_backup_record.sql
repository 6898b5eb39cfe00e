-- Backups and their verifications (数据备份记录): one row per backup set made (full, incremental,
-- logical) and per verification (a restore of one backup into a scratch cluster whose table counts
-- and key-table checksums were compared). The operations assessment (运维考核) reads these for the
-- data-backup record and the daily inspection's "last backup age and verification".
-- Written by the CLI and the daily backup timer as the owner; the web only reads.
-- depends: 0610_row_security

CREATE TABLE backup_record (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('full', 'incremental', 'logical', 'verify')),
    method      text NOT NULL CHECK (method IN ('pgbackrest', 'pg_dump')),
    label       text,                       -- the backup set's own id/name (pgBackRest label, dump directory)
    started_at  timestamptz NOT NULL,
    finished_at timestamptz CHECK (finished_at IS NULL OR finished_at >= started_at),
    ok          boolean NOT NULL DEFAULT false,
    size_bytes  bigint CHECK (size_bytes IS NULL OR size_bytes >= 0),
    checksum    text CHECK (checksum IS NULL OR checksum ~ '^[0-9a-f]{64}$'),   -- sha256 of the artefact(s), hex
    verifies    bigint REFERENCES backup_record (id),   -- kind = verify: which backup was restored
    detail      jsonb NOT NULL DEFAULT '{}',            -- error, table counts compared, files included
    CHECK (verifies IS NULL OR kind = 'verify')
);
CREATE INDEX backup_record_started_idx ON backup_record (started_at DESC);
CREATE INDEX backup_record_verifies_idx ON backup_record (verifies) WHERE verifies IS NOT NULL;

-- Who may read them: the administrators, evaluators, operations staff and leaders. ops_staff may
-- not exist yet (another migration adds it); cg_has_role only compares codes, so that is harmless.
ALTER TABLE backup_record ENABLE ROW LEVEL SECURITY;
CREATE POLICY backup_record_select ON backup_record FOR SELECT TO civicgrid_web USING (
    (SELECT cg_has_role('admin')) OR (SELECT cg_has_role('evaluator'))
    OR (SELECT cg_has_role('ops_staff')) OR (SELECT cg_has_role('leader'))
);
REVOKE ALL ON backup_record FROM civicgrid_web;
GRANT SELECT ON backup_record TO civicgrid_web;
REVOKE ALL ON SEQUENCE backup_record_id_seq FROM civicgrid_web;
