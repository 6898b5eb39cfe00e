-- The monthly operations assessment (运维考核) of the operations vendor (运维单位): the contract's
-- figures and scoring rules as data, the six records of the monthly work report, deduction events
-- (proposed by the system or entered, confirmed or dismissed by the evaluator) and the monthly
-- results as revisions (a signed-off month is changed only by a re-assessment, a new revision).
-- Months are local (Asia/Shanghai) calendar months, stored as their first day.
-- The computation is assessment/sql/*.sql; the rules restated are in assessment/README.md.
-- depends: 0870_geofence

-- ---------------------------------------------------------------- the vendor's staff role

INSERT INTO app_role (code, name, description, assignable) VALUES
    ('ops_staff', '运维人员', 'the operations vendor''s staff: attendance, inspection, fault, security and report records', true);

-- ---------------------------------------------------------------- contract figures (configuration)

-- One row: the contract the assessment is computed against.
CREATE TABLE assessment_contract (
    id                    boolean PRIMARY KEY DEFAULT true CHECK (id),
    name                  text NOT NULL,
    vendor                text NOT NULL,
    total                 numeric(14, 2) NOT NULL CHECK (total > 0),
    breach_rate           numeric(6, 4) NOT NULL CHECK (breach_rate > 0 AND breach_rate < 1),   -- of the total, per breach
    free_warnings         integer NOT NULL CHECK (free_warnings >= 0),   -- warnings a month that are only warnings
    attendance_min        numeric(5, 4) NOT NULL CHECK (attendance_min > 0 AND attendance_min <= 1),
    agreed_on_site        integer NOT NULL CHECK (agreed_on_site > 0),   -- staff a spot check must find
    fault_response_limit  interval NOT NULL,
    fault_resolve_limit   interval NOT NULL,
    security_handle_limit interval NOT NULL,   -- an attack/virus event reported and handled within
    district_report_limit interval NOT NULL,   -- a case exchanged with the district platform within
    backup_max_age        interval NOT NULL,   -- the daily inspection's "last backup" is fresh within
    starts_on             date NOT NULL CHECK (extract(day FROM starts_on) = 1)   -- the first month assessed
);
INSERT INTO assessment_contract VALUES
    (true, '仁和镇综合执法指挥中心运维服务合同', '运维服务单位', 3339988.00, 0.01, 2, 0.95, 3,
     '30 minutes', '4 hours', '2 hours', '2 hours', '26 hours', '2026-01-01');

-- The contract's payment stages (付款节点).
CREATE TABLE assessment_stage (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    share     numeric(5, 4) NOT NULL CHECK (share > 0 AND share <= 1),
    condition text NOT NULL,
    position  integer NOT NULL
);
INSERT INTO assessment_stage VALUES
    ('signing', '首期款', 0.40, '合同签订后5日内', 1),
    ('midterm', '中期款', 0.40, '中期专家评审验收后', 2),
    ('final',   '尾款',   0.20, '终期评审验收后', 3);

-- Grades and what they mean for the payment. `defers` holds the month's payment until a
-- re-assessment reaches a grade that `releases` it.
CREATE TABLE assessment_grade (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    min_score   numeric(5, 1) NOT NULL UNIQUE CHECK (min_score >= 0 AND min_score <= 100),
    consequence text NOT NULL,
    defers      boolean NOT NULL,
    releases    boolean NOT NULL,
    top         boolean NOT NULL DEFAULT false   -- 优秀: a month below it is a warning
);
INSERT INTO assessment_grade VALUES
    ('excellent', '优秀',   85, '按时支付', false, true, true),
    ('good',      '良好',   75, '可要求整改，按时支付', false, true, false),
    ('pass',      '达标',   60, '责令整改，暂缓支付至复核达到良好', true, false, false),
    ('fail',      '不达标', 0,  '责令整改，暂缓支付至复核达到良好', true, false, false);
CREATE UNIQUE INDEX assessment_grade_one_top ON assessment_grade (top) WHERE top;

-- The 11 items of the 运维考核记录表 and their maxima (100 in all).
CREATE TABLE assessment_item (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    max_points numeric(5, 1) NOT NULL CHECK (max_points > 0),
    item_group text NOT NULL CHECK (item_group IN ('basic', 'other')),
    position   integer NOT NULL UNIQUE
);
INSERT INTO assessment_item VALUES
    ('attendance',     '人员考勤', 10, 'basic', 1),
    ('inspection',     '日常巡检', 10, 'basic', 2),
    ('case_reporting', '案件上报', 10, 'basic', 3),
    ('fault',          '故障响应', 10, 'basic', 4),
    ('security',       '信息安全', 10, 'basic', 5),
    ('backup',         '数据备份', 10, 'basic', 6),
    ('complaints',     '用户投诉', 10, 'basic', 7),
    ('reports',        '工作报告', 5,  'basic', 8),
    ('leak',           '信息泄露', 10, 'other', 9),
    ('accident',       '安全事故', 10, 'other', 10),
    ('conduct',        '行为规范', 5,  'other', 11);

-- The 计分点: what an event of each kind deducts (× its count). `zero_at`: an event of the rule
-- with at least this count scores the whole month 0. A `warning` rule deducts nothing and is a
-- warning (a contract item not performed); `item_code` is NULL for those.
CREATE TABLE assessment_rule (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    item_code text REFERENCES assessment_item,
    name      text NOT NULL,
    points    numeric(5, 1) NOT NULL CHECK (points >= 0),
    zero_at   integer CHECK (zero_at > 0),
    warning   boolean NOT NULL DEFAULT false,
    automatic boolean NOT NULL DEFAULT false,   -- the system proposes these from its records
    position  integer NOT NULL UNIQUE,
    CHECK (warning = (item_code IS NULL))
);
INSERT INTO assessment_rule (code, item_code, name, points, zero_at, warning, automatic, position) VALUES
    ('staff_short',        'attendance',     '抽查在岗人数少于约定人数', 0.5, NULL, false, true, 1),
    ('lead_leave',         'attendance',     '负责人请假未报备登记', 2, NULL, false, true, 2),
    ('lead_replaced',      'attendance',     '负责人更换未报备登记', 5, NULL, false, true, 3),
    ('inspection_item',    'inspection',     '巡检记录不完整（每缺一项）', 0.5, NULL, false, true, 4),
    ('inspection_day',     'inspection',     '缺少当日巡检记录', 1, NULL, false, true, 5),
    ('case_late',          'case_reporting', '业务单位案件未及时上报/流转', 2, NULL, false, true, 6),
    ('fault_late',         'fault',          '系统/设备故障未及时处理', 2, NULL, false, true, 7),
    ('security_late',      'security',       '攻击/病毒事件未及时上报处理', 2, NULL, false, true, 8),
    ('backup_missing',     'backup',         '重要数据未备份', 2, NULL, false, true, 9),
    ('data_lost',          'backup',         '数据丢失且无近期备份可恢复', 5, NULL, false, false, 10),
    ('complaint',          'complaints',     '有效投诉', 1, NULL, false, false, 11),
    ('complaint_serious',  'complaints',     '严重投诉（造成不良影响）', 5, NULL, false, false, 12),
    ('report_late',        'reports',        '周报/月报逾期提交', 2, NULL, false, true, 13),
    ('leak',               'leak',           '信息泄露', 5, NULL, false, false, 14),
    ('leak_serious',       'leak',           '信息泄露造成严重后果（当月计0分）', 0, 1, false, false, 15),
    ('accident_serious',   'accident',       '发生严重后果的安全事故（当月计0分）', 0, 1, false, false, 16),
    ('conduct',            'conduct',        '违反行为规范', 1, 3, false, false, 17),
    ('unperformed',        NULL,             '未履行合同约定事项（警告）', 0, NULL, true, false, 18);

-- Work reports (周报, 月报): due `due_after` after the end of their period (local time).
CREATE TABLE assessment_report_kind (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    period    interval NOT NULL,
    due_after interval NOT NULL
);
INSERT INTO assessment_report_kind VALUES
    ('weekly',  '周报', '1 week',  '10 hours'),    -- by Monday 10:00 of the next week
    ('monthly', '月报', '1 month', '10 hours');    -- by 10:00 on the first day of the next month

-- The checklists: the daily inspection (日常巡检) and the information-security inspection
-- (信息安全巡检). `system` items are filled by the server's own checks (assessment/inspect.py).
CREATE TABLE ops_check_item (
    code     text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name     text NOT NULL,
    section  text NOT NULL CHECK (section IN ('daily', 'security')),
    source   text NOT NULL CHECK (source IN ('system', 'manual')),
    position integer NOT NULL UNIQUE,
    active   boolean NOT NULL DEFAULT true
);
INSERT INTO ops_check_item VALUES
    ('db_write',     '数据库可写入',           'daily', 'system', 1, true),
    ('disk_space',   '磁盘剩余空间',           'daily', 'system', 2, true),
    ('backup',       '最近备份时间及恢复验证', 'daily', 'system', 3, true),
    ('api_latency',  '接口响应时间',           'daily', 'system', 4, true),
    ('tile_latency', '地图瓦片响应时间',       'daily', 'system', 5, true),
    ('tls_expiry',   'HTTPS证书有效期',        'daily', 'system', 6, true),
    ('machine_room', '机房环境（温湿度、供电）', 'daily', 'manual', 7, true),
    ('network',      '网络链路',               'daily', 'manual', 8, true),
    ('hall_devices', '指挥大厅终端及大屏',     'daily', 'manual', 9, true),
    ('video',        '视频监控接入',           'daily', 'manual', 10, true),
    ('antivirus',    '病毒库更新',             'security', 'manual', 11, true),
    ('patches',      '系统补丁',               'security', 'manual', 12, true),
    ('accounts',     '账号与权限检查',         'security', 'manual', 13, true);

-- ---------------------------------------------------------------- the six records

-- (1) 考勤: the on-site staff, the days each is rostered on site, sign-in/out, spot checks,
-- the lead's leave and replacement.
CREATE TABLE ops_staff (
    id       integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name     text NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    title    text NOT NULL DEFAULT '' CHECK (length(title) <= 40),
    is_lead  boolean NOT NULL DEFAULT false,
    phone    text CHECK (length(phone) <= 30),
    user_id  integer UNIQUE REFERENCES app_user ON DELETE SET NULL,   -- signs in as himself from a phone
    active   boolean NOT NULL DEFAULT true
);

CREATE TABLE ops_roster (
    staff_id integer NOT NULL REFERENCES ops_staff ON DELETE CASCADE,
    day      date NOT NULL,
    PRIMARY KEY (staff_id, day)
);
CREATE INDEX ops_roster_day_idx ON ops_roster (day);

CREATE TABLE ops_attendance (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    staff_id    integer NOT NULL REFERENCES ops_staff ON DELETE CASCADE,
    day         date NOT NULL,
    sign_in_at  timestamptz NOT NULL,
    sign_out_at timestamptz CHECK (sign_out_at >= sign_in_at),
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (staff_id, day)
);

CREATE TABLE ops_spot_check (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    checked_at  timestamptz NOT NULL,
    expected    integer NOT NULL CHECK (expected > 0),
    found       integer NOT NULL CHECK (found >= 0),
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ops_lead_absence (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('leave', 'replacement')),
    starts_on   date NOT NULL,
    ends_on     date NOT NULL CHECK (ends_on >= starts_on),
    notified    boolean NOT NULL,            -- 报备并登记
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- (3) 日常巡检 and (6) 信息安全巡检: one row per day and checklist item.
CREATE TABLE ops_inspection (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    day         date NOT NULL,
    item_code   text NOT NULL REFERENCES ops_check_item,
    ok          boolean NOT NULL,
    value       text NOT NULL DEFAULT '' CHECK (length(value) <= 200),   -- what was measured
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    source      text NOT NULL CHECK (source IN ('system', 'manual')),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (day, item_code)
);

-- (4) 故障排除 and the security events of (6): reported, responded, resolved.
CREATE TABLE ops_fault (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    category     text NOT NULL CHECK (category IN ('fault', 'security')),
    reported_at  timestamptz NOT NULL,
    responded_at timestamptz CHECK (responded_at >= reported_at),
    resolved_at  timestamptz CHECK (resolved_at >= reported_at),
    description  text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
    cause        text NOT NULL DEFAULT '' CHECK (length(cause) <= 1000),
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_fault_reported_idx ON ops_fault (reported_at);

-- Weekly and monthly work reports, submitted against their deadlines.
CREATE TABLE ops_report (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL REFERENCES assessment_report_kind,
    period_start date NOT NULL,
    submitted_at timestamptz NOT NULL,
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, period_start),
    CHECK (kind <> 'weekly' OR extract(isodow FROM period_start) = 1),
    CHECK (kind <> 'monthly' OR extract(day FROM period_start) = 1)
);

-- ---------------------------------------------------------------- deduction events and results

CREATE TABLE assessment_event (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    rule_code    text NOT NULL REFERENCES assessment_rule,
    count        integer NOT NULL DEFAULT 1 CHECK (count BETWEEN 1 AND 100),
    occurred_at  timestamptz NOT NULL,
    status       text NOT NULL CHECK (status IN ('proposed', 'confirmed', 'dismissed')),
    source       text NOT NULL CHECK (source IN ('system', 'manual')),
    proposal_key text UNIQUE,                 -- the system proposes each finding once
    evidence     jsonb NOT NULL DEFAULT '{}', -- the record behind it ({record, id, …}), an attachment sha
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    reason       text CHECK (length(reason) <= 1000),   -- why confirmed or dismissed
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_by   text,
    decided_at   timestamptz,
    CHECK (status = 'proposed' OR decided_by IS NOT NULL)
);
CREATE INDEX assessment_event_month_idx ON assessment_event (month, status);

-- A month's result, one row per revision; the highest revision is the month's current result.
-- A draft is recomputed in place; a signed one is kept as it is (a re-assessment adds a revision).
CREATE TABLE assessment_result (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    revision        integer NOT NULL CHECK (revision > 0),
    status          text NOT NULL CHECK (status IN ('draft', 'signed')),
    items           jsonb NOT NULL,           -- [{code, name, max, deducted, score}]
    total           numeric(5, 1) NOT NULL,
    zeroed_by       text[] NOT NULL DEFAULT '{}',
    grade           text NOT NULL REFERENCES assessment_grade,
    attendance_rate numeric(6, 4),            -- NULL: nobody rostered
    warnings        jsonb NOT NULL,           -- [{kind, name, occurrence, breach}]
    breaches        integer NOT NULL,
    penalty         numeric(14, 2) NOT NULL,
    consequence     text NOT NULL,
    deferred        boolean NOT NULL,         -- the month's payment is held
    released        boolean NOT NULL DEFAULT false,   -- a re-assessment lifted an earlier deferral
    reason          text,                     -- why it was re-assessed
    computed_by     text NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    signed_by       text,
    signed_at       timestamptz,
    UNIQUE (month, revision),
    CHECK (status = 'draft' OR signed_by IS NOT NULL),
    CHECK (revision = 1 OR reason IS NOT NULL)
);

-- The month's current result is signed: its records and events stay as they are.
CREATE FUNCTION assessment_month_locked(m date) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT status = 'signed' FROM assessment_result
                      WHERE month = date_trunc('month', m)::date ORDER BY revision DESC LIMIT 1), false)
$$;

-- The local month of a date or timestamptz column (TG_ARGV[0]) of the changed row.
CREATE FUNCTION assessment_guard_month() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    d date;
BEGIN
    FOREACH r IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[to_jsonb(NEW)] WHEN 'DELETE' THEN ARRAY[to_jsonb(OLD)]
                               ELSE ARRAY[to_jsonb(OLD), to_jsonb(NEW)] END LOOP
        d := CASE WHEN length(r ->> TG_ARGV[0]) = 10 THEN (r ->> TG_ARGV[0])::date
                  ELSE ((r ->> TG_ARGV[0])::timestamptz AT TIME ZONE 'Asia/Shanghai')::date END;
        IF assessment_month_locked(d) THEN
            RAISE EXCEPTION 'the assessment of % is signed off; changes need a re-assessment',
                to_char(d, 'YYYY-MM') USING ERRCODE = 'check_violation', COLUMN = 'month';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER ops_attendance_month AFTER INSERT OR UPDATE OR DELETE ON ops_attendance
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('day');
CREATE TRIGGER ops_roster_month AFTER INSERT OR UPDATE OR DELETE ON ops_roster
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('day');
CREATE TRIGGER ops_spot_check_month AFTER INSERT OR UPDATE OR DELETE ON ops_spot_check
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('checked_at');
CREATE TRIGGER ops_lead_absence_month AFTER INSERT OR UPDATE OR DELETE ON ops_lead_absence
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('starts_on');
CREATE TRIGGER ops_inspection_month AFTER INSERT OR UPDATE OR DELETE ON ops_inspection
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('day');
CREATE TRIGGER ops_fault_month AFTER INSERT OR UPDATE OR DELETE ON ops_fault
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('reported_at');
CREATE TRIGGER assessment_event_month AFTER INSERT OR UPDATE OR DELETE ON assessment_event
    FOR EACH ROW EXECUTE FUNCTION assessment_guard_month('month');

-- the application's role reads the configuration but does not change it (admins do, by migration
-- or psql); records, events and results are written through the API
REVOKE INSERT, UPDATE, DELETE ON assessment_contract, assessment_stage, assessment_grade, assessment_item,
    assessment_rule, assessment_report_kind FROM civicgrid_web;
