-- Urban-component survey (部件普查): batches staged from surveyors' files, their per-row check
-- results, jobs for uploads over HTTP, and the CJ/T 214 → GB/T 47678.5 component code mapping.
--
-- Rows of a batch live in survey_row until published; the live layer is `component`.
-- Checks are data (survey_check) so that their wording and severity can change without code.
-- depends: 0002_code_catalogs

CREATE TABLE survey_batch_status (status text PRIMARY KEY, name text NOT NULL);
INSERT INTO survey_batch_status VALUES
    ('staged', '已暂存'), ('published', '已发布'), ('partially_published', '部分发布'), ('rolled_back', '已回滚');

CREATE TABLE survey_batch (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.:-]{1,80}$'),
    file_name     text NOT NULL,
    file_sha256   text NOT NULL UNIQUE CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    file_format   text NOT NULL,
    standard      text NOT NULL REFERENCES code_standard,
    source_crs    text NOT NULL,              -- e.g. 'EPSG:4527'
    crs_note      text,                       -- how the CRS was decided (zone prefix, swapped axes …)
    mapping       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'staged' REFERENCES survey_batch_status,
    row_count     integer NOT NULL DEFAULT 0,
    error_rows    integer NOT NULL DEFAULT 0,
    warning_rows  integer NOT NULL DEFAULT 0,
    published_rows integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT cg_actor(),
    checked_at    timestamptz,
    published_at  timestamptz,
    published_by  text,
    rolled_back_at timestamptz,
    rolled_back_by text,
    live_mark     bigint                      -- max(component_history.history_id) when last checked
);

-- One staged row: the 18 attributes keyed by abbreviation (GLBJBSM …) exactly as delivered (text),
-- plus what the checks derived: class, final ID, unit grid, and the difference to the live layer.
CREATE TABLE survey_row (
    batch          text NOT NULL REFERENCES survey_batch ON DELETE CASCADE,
    row_no         integer NOT NULL,              -- 1-based position in the surveyor's file
    attrs          jsonb NOT NULL,
    extra          jsonb NOT NULL DEFAULT '{}'::jsonb,
    geom           geometry(Geometry, 4490),
    geom_error     text,                          -- why no geometry could be read
    type_code      text,
    final_id       text,
    id_assigned    boolean NOT NULL DEFAULT false,
    grid_code      text,
    community_code text,
    action         text CHECK (action IN ('insert', 'update', 'unchanged')),
    moved_m        double precision,
    changed_fields text[],
    initial_date   date,                          -- CSRQ and BGRQ parsed once (survey_date)
    change_date    date,
    has_error      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (batch, row_no)
) WITH (fillfactor = 45);  -- the checks update every row several times: room for HOT updates
CREATE INDEX survey_row_geom_idx ON survey_row USING gist (geom);

CREATE TABLE survey_check (
    code     text PRIMARY KEY,
    severity text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    field    text,                       -- the attribute abbreviation it concerns, if one
    title    text NOT NULL               -- zh-CN, shown in reports
);
INSERT INTO survey_check VALUES
    ('geometry_missing',   'error',   NULL,        '几何缺失或无法读取'),
    ('geometry_invalid',   'error',   NULL,        '几何无效'),
    ('geometry_kind',      'error',   NULL,        '几何类型与部件类别不符'),
    ('outside_town',       'error',   NULL,        '几何位于本镇范围之外'),
    ('class_format',       'error',   'GLBJBSM',   '类别代码格式错误'),
    ('class_unknown',      'error',   'GLBJBSM',   '类别代码不在所选标准目录中'),
    ('class_mismatch',     'error',   'GLBJBSM',   '标识码中的类别与类别代码不一致'),
    ('name_differs',       'warning', 'GLBJMC',    '部件名称与目录标准名称不同'),
    ('mandatory_missing',  'error',   NULL,        '必填属性缺失'),
    ('too_long',           'error',   NULL,        '属性超过标准长度'),
    ('dept_code_invalid',  'error',   NULL,        '单位代码不是有效的统一社会信用代码'),
    ('dept_unknown',       'error',   'ZGBMDM',    '主管部门未在系统中登记'),
    ('status_unknown',     'error',   'GLBJZT',    '部件状态不在代码表中'),
    ('source_unknown',     'error',   'SJLY',      '数据来源不在代码表中'),
    ('grid_missing',       'error',   'SZDYWGBSM', '几何不在任何单元网格内'),
    ('grid_mismatch',      'error',   'SZDYWGBSM', '所填单元网格与几何所在网格不符'),
    ('grid_filled',        'info',    'SZDYWGBSM', '单元网格已按几何位置补填'),
    ('community_mismatch', 'error',   'SZSQDM',    '所填社区（村）代码与单元网格不符'),
    ('id_format',          'error',   'GLBJBSM',   '标识码格式错误'),
    ('id_duplicate',       'error',   'GLBJBSM',   '标识码在本批次中重复'),
    ('id_assigned',        'info',    'GLBJBSM',   '标识码已按类别顺序号分配'),
    ('duplicate_in_batch', 'error',   NULL,        '与本批次中同类部件重复（1 米内）'),
    ('duplicate_live',     'error',   NULL,        '与已发布的同类部件重复（1 米内）'),
    ('date_invalid',       'error',   NULL,        '日期无法识别'),
    ('date_insane',        'error',   NULL,        '日期不合理');

CREATE TABLE survey_issue (
    batch    text NOT NULL REFERENCES survey_batch ON DELETE CASCADE,
    row_no   integer NOT NULL,
    check_code text NOT NULL REFERENCES survey_check,
    field    text,
    message  text NOT NULL,
    PRIMARY KEY (batch, row_no, check_code, field)
);
CREATE INDEX survey_issue_check_idx ON survey_issue (batch, check_code);

-- Rolling back a batch and reporting on it read the history by batch name.
CREATE INDEX component_history_batch_idx ON component_history (batch) WHERE batch IS NOT NULL;

-- Uploads over HTTP are handled as jobs; their state lives here, not on a web worker's disk.
CREATE TABLE survey_job (
    id          uuid PRIMARY KEY,
    status      text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    file_name   text NOT NULL,
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    batch       text,
    result      jsonb,
    error       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT cg_actor(),
    finished_at timestamptz
);

-- 'YYYYMMDD' or 'YYYY-MM-DD' (also with '/') → date; anything else, or an impossible day → NULL.
-- plpgsql rather than SQL: it is called per staged row, and this form is ~10× cheaper than regexp_match.
CREATE FUNCTION survey_date(t text) RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d text;
    y int;
    m int;
    dd int;
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    d := substring(btrim(t) FROM '^([0-9]{4}[-/]?[0-9]{2}[-/]?[0-9]{2})(?:[ T].*)?$');
    IF d IS NULL THEN
        RETURN NULL;
    END IF;
    d := translate(d, '-/', '');
    IF length(d) <> 8 THEN
        RETURN NULL;
    END IF;
    y := substr(d, 1, 4)::int;
    m := substr(d, 5, 2)::int;
    dd := substr(d, 7, 2)::int;
    IF y < 1 OR m < 1 OR m > 12 OR dd < 1
       OR dd > extract(day FROM make_date(y, m, 1) + interval '1 month - 1 day') THEN
        RETURN NULL;
    END IF;
    RETURN make_date(y, m, dd);
END $$;

-- ---------------------------------------------------------------- catalog mapping (CJ/T 214 → GB/T 47678.5)

-- Shared with the case part (0101_catalog_mapping creates it with its own PK); IF NOT EXISTS and
-- ON CONFLICT DO NOTHING keep this migration working whichever part created it.
CREATE TABLE IF NOT EXISTS catalog_mapping (
    from_standard text NOT NULL,
    from_kind     text NOT NULL,
    from_code     text NOT NULL,
    to_standard   text NOT NULL,
    to_kind       text NOT NULL,
    to_code       text NOT NULL,
    note          text,
    PRIMARY KEY (from_standard, from_kind, from_code)
);

-- Component classes that correspond one to one. Codes missing here (e.g. 0117 立杆, split into five
-- pole classes in GB/T 47678.5) do not map; survey_unmapped_codes lists them.
CREATE FUNCTION survey_fill_component_mapping() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO catalog_mapping (from_standard, from_kind, from_code, to_standard, to_kind, to_code, note)
    SELECT 'CJ/T 214-2007', 'component', m.from_code, 'GB/T 47678.5-2026', 'component', m.to_code, m.note
    FROM (VALUES
        ('0101', '01001', '上水井盖 → 供水井盖 (renamed)'),
        ('0102', '01002', 'same name'), ('0103', '01003', 'same name'), ('0104', '01004', 'same name'),
        ('0105', '01005', 'same name'), ('0106', '01006', 'same name'),
        ('0107', '01007', '通讯 → 通信 (spelling)'),
        ('0108', '01008', 'same name'), ('0109', '01009', 'same name'), ('0110', '01010', 'same name'),
        ('0111', '01011', 'same name'), ('0112', '01012', 'same name'), ('0113', '01013', 'same name'),
        ('0114', '01023', '无主井盖 → 不明井盖 (one CJ/T 214 source spells it 不明井盖)'),
        ('0115', '01027', '通讯 → 通信 (spelling)'),
        ('0116', '01028', 'same name'),
        ('0118', '01037', 'same name'), ('0119', '01038', 'same name'), ('0120', '01039', 'same name'),
        ('0121', '01040', 'same name'), ('0122', '01041', 'same name'), ('0123', '01042', 'same name'),
        ('0124', '01043', 'same name'), ('0125', '01045', 'same name'),
        ('0126', '01046', '健身设施 → 户外健身设施'),
        ('0127', '01019', 'same name'), ('0128', '01020', 'same name'), ('0129', '01021', 'same name'),
        ('0130', '01022', 'same name'),
        ('0131', '01024', '民用水井 → 水井 (wider class)'),
        ('0132', '01025', 'same name'), ('0133', '01047', 'same name'), ('0134', '01048', 'same name'),
        ('0135', '01049', 'same name'),
        ('0136', '01050', '监控电子眼 → 监控电子眼设施'),
        ('0137', '01044', 'same name'), ('0138', '01051', 'same name'),
        ('0201', '02001', 'same name'),
        ('0202', '02003', '停车咪表 → 停车计费设备 (wider class)'),
        ('0203', '02004', '公交站亭 → 公交站设施 (wider class)'),
        ('0204', '02005', '出租车站牌 → 出租车停靠站'),
        ('0205', '02006', 'same name'), ('0206', '02007', 'same name'),
        ('0207', '02008', '高架立交桥 → 立交桥'),
        ('0208', '02009', 'same name'),
        ('0209', '02010', '交通标志牌 → 交通标志牌及标线 (wider class)'),
        ('0210', '02014', 'same name'), ('0211', '02017', 'same name'), ('0212', '02027', 'same name'),
        ('0213', '02012', 'same name'), ('0214', '02015', 'same name'), ('0215', '02023', 'same name'),
        ('0216', '02024', 'same name'), ('0217', '02016', 'same name'),
        ('0301', '03001', 'same name'), ('0302', '03003', 'same name'), ('0303', '03002', 'same name'),
        ('0304', '03004', 'same name'), ('0305', '03005', 'same name'),
        ('0308', '03010', 'same name'), ('0309', '03009', 'same name'), ('0310', '03011', 'same name'),
        ('0401', '04001', 'same name'), ('0402', '04002', 'same name'), ('0403', '04004', 'same name'),
        ('0404', '04005', 'same name'), ('0405', '04013', 'same name'), ('0406', '04006', 'same name'),
        ('0407', '04007', '坐椅 → 座椅 (spelling)'),
        ('0408', '04008', 'same name'), ('0410', '04010', 'same name'),
        ('0501', '03008', 'same name; moved from major 05 to 03'),
        ('0503', '05002', 'same name'),
        ('0603', '01069', 'same name; moved from major 06 to 01'),
        ('0604', '01070', 'same name; moved from major 06 to 01'),
        ('0606', '01071', 'same name; moved from major 06 to 01')
    ) AS m(from_code, to_code, note)
    JOIN code_catalog f ON (f.standard, f.kind, f.code) = ('CJ/T 214-2007', 'component', m.from_code)
    JOIN code_catalog g ON (g.standard, g.kind, g.code) = ('GB/T 47678.5-2026', 'component', m.to_code)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

DO $$ BEGIN PERFORM survey_fill_component_mapping(); END $$;

-- Component codes of either standard that have no counterpart in the other: listed, never guessed.
CREATE VIEW survey_unmapped_codes AS
SELECT c.standard, c.kind, c.code, c.name,
       CASE WHEN c.standard = 'CJ/T 214-2007' THEN 'no GB/T 47678.5-2026 class corresponds one to one'
            ELSE 'no CJ/T 214-2007 class maps here' END AS reason
FROM code_catalog c
WHERE c.kind = 'component'
  AND ((c.standard = 'CJ/T 214-2007' AND NOT EXISTS (
            SELECT 1 FROM catalog_mapping m
            WHERE (m.from_standard, m.from_kind, m.from_code) = (c.standard, c.kind, c.code)
              AND m.to_standard = 'GB/T 47678.5-2026'))
    OR (c.standard = 'GB/T 47678.5-2026' AND NOT EXISTS (
            SELECT 1 FROM catalog_mapping m
            WHERE (m.to_standard, m.to_kind, m.to_code) = (c.standard, c.kind, c.code)
              AND m.from_standard = 'CJ/T 214-2007')));

-- A staged row shaped like a `component` row: what publishing it would write.
CREATE VIEW survey_candidate AS
SELECT s.batch, s.row_no, s.has_error, s.action,
       s.final_id                     AS id,
       b.standard,
       s.type_code,
       s.attrs ->> 'GLBJMC'           AS name,
       s.attrs ->> 'ZGBMDM'           AS dept_code,
       s.attrs ->> 'ZGBMMC'           AS dept_name,
       s.attrs ->> 'QSDWDM'           AS owner_code,
       s.attrs ->> 'QSDWMC'           AS owner_name,
       s.attrs ->> 'YHDWDM'           AS maintainer_code,
       s.attrs ->> 'YHDWMC'           AS maintainer_name,
       s.grid_code                    AS unit_grid_code,
       s.attrs ->> 'GLBJZT'           AS status,
       s.initial_date,
       s.change_date,
       s.attrs ->> 'SJLY'             AS data_source,
       s.attrs ->> 'BZ'               AS note,
       coalesce(s.attrs ->> 'SZJDDM', left(s.grid_code, 9)) AS street_code,
       coalesce(s.attrs ->> 'SZJDMC', t.name)               AS street_name,
       s.community_code,
       coalesce(s.attrs ->> 'SZSQMC', cm.name)              AS community_name,
       s.extra,
       s.geom
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
LEFT JOIN community cm ON cm.code = s.community_code
LEFT JOIN town t ON t.code = left(s.grid_code, 9);
