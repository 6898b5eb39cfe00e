-- The names of the time-limit colours (时限灯) that case_sla_color() returns, so every label a user
-- sees is data served by GET /api/labels.
-- depends: 0700_case_sla_color

CREATE TABLE case_sla_level (
    code text PRIMARY KEY,
    name text NOT NULL,
    rank smallint NOT NULL UNIQUE
);
INSERT INTO case_sla_level (code, name, rank) VALUES
    ('green', '正常', 1), ('yellow', '即将超时', 2), ('red', '已超时', 3);
GRANT SELECT ON case_sla_level TO civicgrid_web;
REVOKE INSERT, UPDATE, DELETE ON case_sla_level FROM civicgrid_web;
