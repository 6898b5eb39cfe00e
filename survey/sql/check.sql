-- Checks of one staged batch, set-based. Run in order, in one transaction, with %(batch)s.
-- Each "-- step:" block is one statement. Messages are zh-CN and start with the attribute
-- abbreviation (or 几何) so that surveyors find the column to fix.

-- step: reset
DELETE FROM survey_issue WHERE batch = %(batch)s;

-- step: derive class, unit grid, community, dates and final IDs
-- The class comes from an explicit class column (code or standard name), else from the ID,
-- else from the component's standard name; the grid is the one holding the geometry. The final ID
-- is the given one when well-formed (N digits = district of the grid + class + 6-digit serial, first
-- of its kind in the batch), else — when none is given — the next free serial of its class.
-- One UPDATE for all of it: every full-table UPDATE leaves 100k dead row versions behind.
WITH d AS (
    SELECT r.row_no, r.attrs ->> 'GLBJBSM' AS given, st.component_id_length AS len,
           st.type_code_length AS tlen,
           coalesce(
               CASE WHEN r.attrs ->> 'LXDM' ~ '^[0-9]+$' THEN r.attrs ->> 'LXDM' END,
               by_class_name.code,
               CASE WHEN r.attrs ->> 'LXDM' IS NULL AND r.attrs ->> 'GLBJBSM' ~ '^[0-9]{16,17}$'
                    THEN substr(r.attrs ->> 'GLBJBSM', 7, st.type_code_length) END,
               CASE WHEN r.attrs ->> 'LXDM' IS NULL THEN by_name.code END) AS type_code,
           -- the stated grid stands when it holds the geometry's point on surface (1 m tolerance, as the
           -- live layer's own rule: a line may cross grids); else the grid that holds that point
           coalesce(CASE WHEN ST_Intersects(sg.geom, p.pos) OR ST_DWithin(sg.geom::geography, p.pos::geography, 1)
                         THEN sg.code END, g.code) AS grid_code
    FROM survey_row r
    JOIN survey_batch b ON b.name = r.batch
    JOIN code_standard st ON st.standard = b.standard
    CROSS JOIN LATERAL (SELECT CASE WHEN r.geom IS NOT NULL AND ST_IsValid(r.geom) AND NOT ST_IsEmpty(r.geom)
                                    THEN ST_PointOnSurface(r.geom) END AS pos) p
    LEFT JOIN unit_grid sg ON sg.code = r.attrs ->> 'SZDYWGBSM'
    LEFT JOIN code_catalog by_class_name
           ON (by_class_name.standard, by_class_name.kind, by_class_name.name) = (b.standard, 'component', btrim(r.attrs ->> 'LXDM'))
    LEFT JOIN code_catalog by_name
           ON (by_name.standard, by_name.kind, by_name.name) = (b.standard, 'component', btrim(r.attrs ->> 'GLBJMC'))
    LEFT JOIN LATERAL (
        SELECT u.code FROM unit_grid u
        WHERE p.pos IS NOT NULL AND ST_Intersects(u.geom, p.pos)
        ORDER BY u.code LIMIT 1) g ON true
    WHERE r.batch = %(batch)s
)
, v AS (
    SELECT d.*,
           d.given ~ ('^[0-9]{' || d.len || '}$')
           AND (d.grid_code IS NULL OR left(d.given, 6) = left(d.grid_code, 6))
           AND (d.type_code IS NULL OR substr(d.given, 7, d.tlen) = d.type_code)
           AND row_number() OVER (PARTITION BY d.given ORDER BY d.row_no) = 1 AS given_ok
    FROM d
), needs AS (
    SELECT v.row_no, left(v.grid_code, 6) || v.type_code AS prefix
    FROM v
    WHERE v.given IS NULL AND v.grid_code IS NOT NULL AND v.type_code IS NOT NULL
      AND length(left(v.grid_code, 6) || v.type_code) = v.len - 6
), taken AS (
    SELECT left(c.id, length(c.id) - 6) AS prefix, max(right(c.id, 6)::int) AS serial
    FROM component c
    WHERE left(c.id, length(c.id) - 6) IN (SELECT prefix FROM needs)
    GROUP BY 1
    UNION ALL
    SELECT left(v.given, v.len - 6), max(right(v.given, 6)::int)
    FROM v WHERE v.given ~ ('^[0-9]{' || v.len || '}$') GROUP BY 1
), top AS (
    SELECT prefix, max(serial) AS serial FROM taken GROUP BY prefix
), assigned AS (
    SELECT n.row_no, n.prefix,
           coalesce(t.serial, 0) + row_number() OVER (PARTITION BY n.prefix ORDER BY n.row_no) AS serial
    FROM needs n LEFT JOIN top t ON t.prefix = n.prefix
)
UPDATE survey_row s
SET type_code = v.type_code,
    grid_code = v.grid_code,
    community_code = left(v.grid_code, 12),
    initial_date = survey_date(s.attrs ->> 'CSRQ'),
    change_date = survey_date(s.attrs ->> 'BGRQ'),
    final_id = CASE WHEN v.given IS NOT NULL THEN CASE WHEN v.given_ok THEN v.given END
                    WHEN a.serial <= 999999 THEN a.prefix || lpad(a.serial::text, 6, '0') END,
    id_assigned = coalesce(v.given IS NULL AND a.serial <= 999999, false),
    action = NULL, moved_m = NULL, changed_fields = NULL, has_error = false
FROM v
LEFT JOIN assigned a ON a.row_no = v.row_no
WHERE s.batch = %(batch)s AND s.row_no = v.row_no;

-- step: fill the standard name from the class when the file has none (DXF layers, thin deliveries)
UPDATE survey_row s
SET attrs = s.attrs || jsonb_build_object('GLBJMC', (
        SELECT c.name FROM survey_batch b
        JOIN code_catalog c ON (c.standard, c.kind, c.code) = (b.standard, 'component', s.type_code)
        WHERE b.name = s.batch))
WHERE s.batch = %(batch)s AND s.attrs ->> 'GLBJMC' IS NULL AND s.type_code IS NOT NULL
  AND EXISTS (SELECT 1 FROM survey_batch b
              JOIN code_catalog c ON (c.standard, c.kind, c.code) = (b.standard, 'component', s.type_code)
              WHERE b.name = s.batch);

-- step: geometry missing
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'geometry_missing', '几何', '几何：' || coalesce(s.geom_error, '缺少几何')
FROM survey_row s WHERE s.batch = %(batch)s AND (s.geom IS NULL OR ST_IsEmpty(s.geom));

-- step: geometry invalid
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'geometry_invalid', '几何', '几何：几何无效（' || ST_IsValidReason(s.geom) || '）'
FROM survey_row s WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND NOT ST_IsValid(s.geom);

-- step: class format and existence
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no,
       CASE WHEN s.type_code IS NULL OR s.type_code !~ ('^[0-9]{' || st.type_code_length || '}$')
            THEN 'class_format' ELSE 'class_unknown' END,
       'LXDM',
       CASE WHEN s.type_code IS NULL
            THEN 'LXDM：无法确定部件类别（类别代码、标识码和部件名称均未给出有效类别）'
            WHEN s.type_code !~ ('^[0-9]{' || st.type_code_length || '}$')
            THEN 'LXDM：类别代码 ' || s.type_code || ' 应为 ' || st.type_code_length || ' 位数字（' || b.standard || '）'
            ELSE 'LXDM：类别代码 ' || s.type_code || ' 不在 ' || b.standard || ' 部件目录中' END
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
JOIN code_standard st ON st.standard = b.standard
WHERE s.batch = %(batch)s
  AND NOT EXISTS (SELECT 1 FROM code_catalog c
                  WHERE (c.standard, c.kind, c.code) = (b.standard, 'component', s.type_code));

-- step: geometry kind of the class
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'geometry_kind', '几何',
       '几何：类别 ' || c.code || ' ' || c.name || ' 应为'
       || CASE c.geometry_kind WHEN 'point' THEN '点' WHEN 'line' THEN '线' ELSE '面' END
       || '，实际为 ' || lower(GeometryType(s.geom))
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
JOIN code_catalog c ON (c.standard, c.kind, c.code) = (b.standard, 'component', s.type_code)
WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND NOT ST_IsEmpty(s.geom)
  AND CASE c.geometry_kind
        WHEN 'point' THEN GeometryType(s.geom) NOT IN ('POINT', 'MULTIPOINT')
        WHEN 'line' THEN GeometryType(s.geom) NOT IN ('LINESTRING', 'MULTILINESTRING')
        ELSE GeometryType(s.geom) NOT IN ('POLYGON', 'MULTIPOLYGON') END;

-- step: name differs from the catalog's standard name
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'name_differs', 'GLBJMC',
       'GLBJMC：名称“' || (s.attrs ->> 'GLBJMC') || '”与类别 ' || c.code || ' 的标准名称“' || c.name || '”不同'
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
JOIN code_catalog c ON (c.standard, c.kind, c.code) = (b.standard, 'component', s.type_code)
WHERE s.batch = %(batch)s AND s.attrs ->> 'GLBJMC' IS NOT NULL AND btrim(s.attrs ->> 'GLBJMC') <> c.name;

-- step: inside the town (1 m tolerance, as the live layer's own rule)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'outside_town', '几何', '几何：位于本镇范围之外'
FROM survey_row s
WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND ST_IsValid(s.geom) AND NOT ST_IsEmpty(s.geom)
  AND NOT EXISTS (SELECT 1 FROM town t WHERE ST_CoveredBy(s.geom, t.geom))
  AND NOT EXISTS (SELECT 1 FROM town t
                  WHERE ST_DWithin(s.geom::geography, t.geom::geography, 1)
                    AND ST_Area(ST_Transform(ST_Difference(s.geom, t.geom), 4548))
                        + ST_Length(ST_Transform(ST_Difference(s.geom, t.geom), 4548)) < 1);

-- step: unit grid stated vs found
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no,
       CASE WHEN s.grid_code IS NULL THEN 'grid_missing'
            WHEN s.attrs ->> 'SZDYWGBSM' IS NULL THEN 'grid_filled'
            ELSE 'grid_mismatch' END,
       'SZDYWGBSM',
       CASE WHEN s.grid_code IS NULL THEN 'SZDYWGBSM：几何不在任何单元网格内'
            WHEN s.attrs ->> 'SZDYWGBSM' IS NULL THEN 'SZDYWGBSM：未填，已按几何位置补填为 ' || s.grid_code
            ELSE 'SZDYWGBSM：所填单元网格 ' || (s.attrs ->> 'SZDYWGBSM') || ' 与几何所在网格 ' || s.grid_code || ' 不符' END
FROM survey_row s
WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND ST_IsValid(s.geom) AND NOT ST_IsEmpty(s.geom)
  AND (s.grid_code IS NULL OR s.attrs ->> 'SZDYWGBSM' IS DISTINCT FROM s.grid_code)
  AND NOT EXISTS (SELECT 1 FROM survey_issue i
                  WHERE (i.batch, i.row_no, i.check_code) = (s.batch, s.row_no, 'outside_town'));

-- step: community stated vs the grid's
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'community_mismatch', 'SZSQDM',
       'SZSQDM：所填社区（村）代码 ' || (s.attrs ->> 'SZSQDM') || ' 与单元网格 ' || s.grid_code || ' 所属的 ' || s.community_code || ' 不符'
FROM survey_row s
WHERE s.batch = %(batch)s AND s.grid_code IS NOT NULL AND s.attrs ->> 'SZSQDM' IS NOT NULL
  AND s.attrs ->> 'SZSQDM' <> s.community_code;

-- step: mandatory attributes (obligation M; the ID and the grid are assigned/filled when empty)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'mandatory_missing', a.abbreviation,
       a.abbreviation || '：必填属性“' || a.field_name || '”缺失'
FROM survey_row s
CROSS JOIN standard_attribute a
WHERE s.batch = %(batch)s AND a.kind = 'component' AND a.obligation = 'M'
  AND a.abbreviation NOT IN ('GLBJBSM', 'SZDYWGBSM')
  AND s.attrs ->> a.abbreviation IS NULL;

-- step: lengths of character attributes
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'too_long', a.abbreviation,
       a.abbreviation || '：长度 ' || length(s.attrs ->> a.abbreviation) || ' 超过标准规定的 ' || a.length || ' 个字符'
FROM survey_row s
CROSS JOIN standard_attribute a
WHERE s.batch = %(batch)s AND a.kind = 'component' AND a.data_type = '字符型'
  AND a.abbreviation NOT IN ('GLBJBSM')
  AND length(s.attrs ->> a.abbreviation) > a.length;

-- step: department codes are unified social credit codes (checked once per distinct code)
WITH used AS (
    SELECT s.row_no, k.abbr, s.attrs ->> k.abbr AS code
    FROM survey_row s CROSS JOIN (VALUES ('ZGBMDM'), ('QSDWDM'), ('YHDWDM')) AS k(abbr)
    WHERE s.batch = %(batch)s AND s.attrs ->> k.abbr IS NOT NULL
), verdict AS (
    SELECT code, uscc_is_valid(code) AS ok FROM (SELECT DISTINCT code FROM used) d
)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, u.row_no, 'dept_code_invalid', u.abbr,
       u.abbr || '：' || u.code || ' 不是有效的 18 位统一社会信用代码'
FROM used u JOIN verdict v USING (code)
WHERE NOT v.ok;

-- step: the department is registered (the live layer refers to it)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'dept_unknown', 'ZGBMDM',
       'ZGBMDM：主管部门 ' || (s.attrs ->> 'ZGBMDM') || ' 未在系统部门表中登记'
FROM survey_row s
WHERE s.batch = %(batch)s AND s.attrs ->> 'ZGBMDM' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM department d WHERE d.code = s.attrs ->> 'ZGBMDM')
  AND NOT EXISTS (SELECT 1 FROM survey_issue i
                  WHERE (i.batch, i.row_no, i.check_code, i.field) = (s.batch, s.row_no, 'dept_code_invalid', 'ZGBMDM'));

-- step: status is from its code table
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'status_unknown', 'GLBJZT',
       'GLBJZT：部件状态“' || (s.attrs ->> 'GLBJZT') || '”不在代码表中（' ||
       (SELECT string_agg(status, '、' ORDER BY status) FROM component_status) || '）'
FROM survey_row s
WHERE s.batch = %(batch)s AND s.attrs ->> 'GLBJZT' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM component_status c WHERE c.status = s.attrs ->> 'GLBJZT');

-- step: data source is from its code table
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'source_unknown', 'SJLY',
       'SJLY：数据来源“' || (s.attrs ->> 'SJLY') || '”不在代码表中'
FROM survey_row s
WHERE s.batch = %(batch)s AND s.attrs ->> 'SJLY' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM data_source d WHERE d.source = s.attrs ->> 'SJLY');

-- step: dates are readable and sane (the survey era of digital urban management, not in the future)
WITH r AS (
    SELECT s.row_no, s.attrs ->> 'CSRQ' AS csrq_raw, s.attrs ->> 'BGRQ' AS bgrq_raw,
           s.initial_date AS csrq, s.change_date AS bgrq
    FROM survey_row s
    WHERE s.batch = %(batch)s AND (s.attrs ->> 'CSRQ' IS NOT NULL OR s.attrs ->> 'BGRQ' IS NOT NULL)
), d AS (
    SELECT row_no, 'CSRQ' AS abbr, csrq_raw AS raw, csrq AS value, csrq AS initial FROM r WHERE csrq_raw IS NOT NULL
    UNION ALL
    SELECT row_no, 'BGRQ', bgrq_raw, bgrq, csrq FROM r WHERE bgrq_raw IS NOT NULL
)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, d.row_no,
       CASE WHEN d.value IS NULL THEN 'date_invalid' ELSE 'date_insane' END, d.abbr,
       CASE WHEN d.value IS NULL THEN d.abbr || '：日期“' || d.raw || '”无法识别（应为 YYYYMMDD）'
            WHEN d.value > current_date THEN d.abbr || '：日期 ' || d.value || ' 晚于今天'
            WHEN d.value < date '2000-01-01' THEN d.abbr || '：日期 ' || d.value || ' 早于 2000-01-01'
            ELSE d.abbr || '：变更日期 ' || d.value || ' 早于初始日期 ' || d.initial END
FROM d
WHERE d.value IS NULL OR d.value > current_date OR d.value < date '2000-01-01'
   OR (d.abbr = 'BGRQ' AND d.initial IS NOT NULL AND d.value < d.initial);

-- step: given IDs are well-formed: N digits = district of the grid + class + 6-digit serial
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no,
       CASE WHEN (s.attrs ->> 'GLBJBSM') !~ ('^[0-9]{' || st.component_id_length || '}$')
                 OR (s.grid_code IS NOT NULL AND left(s.attrs ->> 'GLBJBSM', 6) <> left(s.grid_code, 6))
            THEN 'id_format' ELSE 'class_mismatch' END,
       'GLBJBSM',
       'GLBJBSM：标识码 ' || (s.attrs ->> 'GLBJBSM') || CASE
           WHEN (s.attrs ->> 'GLBJBSM') !~ ('^[0-9]{' || st.component_id_length || '}$')
               THEN ' 应为 ' || st.component_id_length || ' 位数字（' || b.standard || '）'
           WHEN s.grid_code IS NOT NULL AND left(s.attrs ->> 'GLBJBSM', 6) <> left(s.grid_code, 6)
               THEN ' 的前 6 位应为所在区县代码 ' || left(s.grid_code, 6)
           ELSE ' 中的类别 ' || substr(s.attrs ->> 'GLBJBSM', 7, st.type_code_length) || ' 与部件类别 ' || s.type_code || ' 不一致'
       END
FROM survey_row s
JOIN survey_batch b ON b.name = s.batch
JOIN code_standard st ON st.standard = b.standard
WHERE s.batch = %(batch)s AND s.attrs ->> 'GLBJBSM' IS NOT NULL
  AND ((s.attrs ->> 'GLBJBSM') !~ ('^[0-9]{' || st.component_id_length || '}$')
       OR (s.grid_code IS NOT NULL AND left(s.attrs ->> 'GLBJBSM', 6) <> left(s.grid_code, 6))
       OR (s.type_code IS NOT NULL AND substr(s.attrs ->> 'GLBJBSM', 7, st.type_code_length) <> s.type_code));

-- step: IDs unique inside the batch
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, x.row_no, 'id_duplicate', 'GLBJBSM',
       'GLBJBSM：标识码 ' || x.id || ' 与第 ' || x.first_row || ' 行重复'
FROM (
    SELECT s.row_no, s.attrs ->> 'GLBJBSM' AS id,
           min(s.row_no) OVER (PARTITION BY s.attrs ->> 'GLBJBSM') AS first_row
    FROM survey_row s WHERE s.batch = %(batch)s AND s.attrs ->> 'GLBJBSM' IS NOT NULL
) x
WHERE x.row_no <> x.first_row;

-- step: note assigned IDs
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT s.batch, s.row_no, 'id_assigned', 'GLBJBSM', 'GLBJBSM：未填，已分配标识码 ' || s.final_id
FROM survey_row s WHERE s.batch = %(batch)s AND s.id_assigned;

-- step: duplicates inside the batch: points of one class within 1 m (DBSCAN in metres, EPSG:4548)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, x.row_no, 'duplicate_in_batch', '几何',
       '几何：与第 ' || x.first_row || ' 行同类部件相距不足 1 米，疑似重复'
FROM (
    SELECT c.row_no, min(c.row_no) OVER (PARTITION BY c.type_code, c.cluster) AS first_row, c.cluster
    FROM (
        SELECT s.row_no, s.type_code,
               ST_ClusterDBSCAN(ST_Transform(s.geom, 4548), eps => 1, minpoints => 2)
                   OVER (PARTITION BY s.type_code) AS cluster
        FROM survey_row s
        WHERE s.batch = %(batch)s AND s.type_code IS NOT NULL AND GeometryType(s.geom) = 'POINT'
    ) c
    WHERE c.cluster IS NOT NULL
) x
WHERE x.row_no <> x.first_row;

-- step: duplicates inside the batch: lines and areas of one class within 1 m (Hausdorff distance)
WITH shapes AS MATERIALIZED (
    SELECT s.row_no, s.type_code, ST_Transform(s.geom, 4548) AS g
    FROM survey_row s
    WHERE s.batch = %(batch)s AND s.type_code IS NOT NULL AND s.geom IS NOT NULL
      AND GeometryType(s.geom) <> 'POINT' AND ST_IsValid(s.geom)
)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, b.row_no, 'duplicate_in_batch', '几何',
       '几何：与第 ' || min(a.row_no) || ' 行同类部件相距不足 1 米，疑似重复'
FROM shapes a JOIN shapes b ON a.row_no < b.row_no AND a.type_code = b.type_code AND ST_DWithin(a.g, b.g, 1)
WHERE ST_HausdorffDistance(a.g, b.g) < 1
GROUP BY b.row_no;

-- step: duplicates against the live layer (same class within 1 m, another ID)
WITH near AS MATERIALIZED (
    -- the bounding-box join alone, so that only the spatial index can serve it
    SELECT s.row_no, s.type_code, s.final_id, s.geom AS sg, c.id, c.standard, c.type_code AS ctype, c.geom AS cg
    FROM survey_row s
    JOIN component c ON c.geom && ST_Expand(s.geom, 0.00002)
    WHERE s.batch = %(batch)s AND s.geom IS NOT NULL AND ST_IsValid(s.geom)
)
INSERT INTO survey_issue (batch, row_no, check_code, field, message)
SELECT %(batch)s, n.row_no, 'duplicate_live', '几何',
       '几何：与已发布的同类部件 ' || min(n.id) || ' 相距不足 1 米，疑似重复'
FROM near n
JOIN survey_batch b ON b.name = %(batch)s
WHERE n.standard = b.standard AND n.ctype = n.type_code AND n.id IS DISTINCT FROM n.final_id
  AND CASE WHEN GeometryType(n.sg) = 'POINT' AND GeometryType(n.cg) = 'POINT'
           THEN ST_DWithin(n.sg::geography, n.cg::geography, 1)
           ELSE ST_HausdorffDistance(ST_Transform(n.sg, 4548), ST_Transform(n.cg, 4548)) < 1 END
GROUP BY n.row_no;

-- step: flag rows with errors
UPDATE survey_row s SET has_error = true
WHERE s.batch = %(batch)s AND EXISTS (
    SELECT 1 FROM survey_issue i JOIN survey_check k ON k.code = i.check_code
    WHERE i.batch = s.batch AND i.row_no = s.row_no AND k.severity = 'error');

-- step: difference to the live layer (new, moved > 0.5 m, attributes changed)
WITH pair AS (
    SELECT v.row_no,
           c.id IS NOT NULL AS exists_live,
           CASE WHEN c.id IS NOT NULL THEN
               ST_HausdorffDistance(ST_Transform(v.geom, 4548), ST_Transform(c.geom, 4548)) END AS moved,
           CASE WHEN c.id IS NOT NULL THEN ARRAY(
               SELECT e.key FROM jsonb_each(jsonb_build_object(
                   'GLBJMC', v.name, 'ZGBMDM', v.dept_code, 'ZGBMMC', v.dept_name,
                   'QSDWDM', v.owner_code, 'QSDWMC', v.owner_name, 'YHDWDM', v.maintainer_code,
                   'YHDWMC', v.maintainer_name, 'SZDYWGBSM', v.unit_grid_code, 'GLBJZT', v.status,
                   'CSRQ', v.initial_date, 'BGRQ', v.change_date, 'SJLY', v.data_source, 'BZ', v.note,
                   'SZJDDM', v.street_code, 'SZJDMC', v.street_name, 'SZSQDM', v.community_code,
                   'SZSQMC', v.community_name)) e
               WHERE e.value IS DISTINCT FROM jsonb_build_object(
                   'GLBJMC', c.name, 'ZGBMDM', c.dept_code, 'ZGBMMC', c.dept_name,
                   'QSDWDM', c.owner_code, 'QSDWMC', c.owner_name, 'YHDWDM', c.maintainer_code,
                   'YHDWMC', c.maintainer_name, 'SZDYWGBSM', c.unit_grid_code, 'GLBJZT', c.status,
                   'CSRQ', c.initial_date, 'BGRQ', c.change_date, 'SJLY', c.data_source, 'BZ', c.note,
                   'SZJDDM', c.street_code, 'SZJDMC', c.street_name, 'SZSQDM', c.community_code,
                   'SZSQMC', c.community_name) -> e.key
               ORDER BY e.key) END AS changed
    FROM survey_candidate v
    LEFT JOIN component c ON c.id = v.id
    WHERE v.batch = %(batch)s AND v.id IS NOT NULL AND NOT v.has_error
)
UPDATE survey_row s
SET action = CASE WHEN NOT p.exists_live THEN 'insert'
                  WHEN p.moved > 0.5 OR cardinality(p.changed) > 0 THEN 'update'
                  ELSE 'unchanged' END,
    moved_m = p.moved,
    changed_fields = p.changed
FROM pair p
WHERE s.batch = %(batch)s AND s.row_no = p.row_no;

-- step: batch counts
UPDATE survey_batch b
SET row_count = x.n, error_rows = x.errors, warning_rows = x.warnings, checked_at = now()
FROM (
    SELECT count(*) AS n, count(*) FILTER (WHERE s.has_error) AS errors,
           count(*) FILTER (WHERE NOT s.has_error AND EXISTS (
               SELECT 1 FROM survey_issue i JOIN survey_check k ON k.code = i.check_code
               WHERE i.batch = s.batch AND i.row_no = s.row_no AND k.severity = 'warning')) AS warnings
    FROM survey_row s WHERE s.batch = %(batch)s
) x
WHERE b.name = %(batch)s;
