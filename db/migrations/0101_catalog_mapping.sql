-- CJ/T 214-2007 codes mapped to GB/T 47678.5-2026 codes, as data. Used by case intake (old codes
-- from the district platform and old terminals) and by the survey import (old 16-digit component IDs).
-- Filled where the names are equal after normalising wording changes (通讯→通信, 上水→供水 …) or
-- where the classes are equivalent (listed by hand with a note). What stays unmapped is listed
-- by the view catalog_mapping_unmapped.
-- depends: 0100_cases

CREATE TABLE catalog_mapping (
    from_standard text NOT NULL REFERENCES code_standard,
    from_kind     text NOT NULL REFERENCES code_catalog_kind,
    from_code     text NOT NULL,
    to_standard   text NOT NULL REFERENCES code_standard,
    to_kind       text NOT NULL REFERENCES code_catalog_kind,
    to_code       text NOT NULL,
    note          text,
    PRIMARY KEY (from_standard, from_kind, from_code, to_standard),
    FOREIGN KEY (from_standard, from_kind, from_code) REFERENCES code_catalog (standard, kind, code),
    FOREIGN KEY (to_standard, to_kind, to_code) REFERENCES code_catalog (standard, kind, code)
);

-- Same name after normalisation: components → components, events (事件) → matters (事项).
CREATE FUNCTION cg_normalise_catalog_name(name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(replace(replace(replace(
           replace(name, '（', '('), '）', ')'), '通讯', '通信'), '上水', '供水'), '无主', '不明'),
           '坐椅', '座椅'), '自动售货机(亭)', '自动售货机'), ' ', '')
$$;

INSERT INTO catalog_mapping
SELECT o.standard, o.kind, o.code, n.standard, n.kind, n.code, 'same name'
FROM code_catalog o
JOIN code_catalog n ON n.standard = 'GB/T 47678.5-2026'
    AND n.kind = CASE o.kind WHEN 'event' THEN 'matter' ELSE o.kind END
    AND cg_normalise_catalog_name(n.name) = cg_normalise_catalog_name(o.name)
WHERE o.standard = 'CJ/T 214-2007'
ON CONFLICT DO NOTHING;

-- Equivalent classes under a new name or a broader new class.
INSERT INTO catalog_mapping
SELECT 'CJ/T 214-2007', m.from_kind, m.from_code, 'GB/T 47678.5-2026', m.to_kind, m.to_code, m.note
FROM (VALUES
    ('component', '0126', 'component', '01046', '健身设施 → 户外健身设施'),
    ('component', '0136', 'component', '01050', '监控电子眼 → 监控电子眼设施'),
    ('component', '0131', 'component', '01024', '民用水井 → 水井'),
    ('component', '0202', 'component', '02003', '停车咪表 → 停车计费设备'),
    ('component', '0203', 'component', '02004', '公交站亭 → 公交站设施'),
    ('component', '0204', 'component', '02005', '出租车站牌 → 出租车停靠站'),
    ('component', '0205', 'component', '02006', '过街天桥'),
    ('component', '0207', 'component', '02008', '高架立交桥 → 立交桥'),
    ('component', '0209', 'component', '02010', '交通标志牌 → 交通标志牌及标线'),
    ('component', '0306', 'component', '03006', '灯箱霓虹灯 → 户外广告'),
    ('component', '0409', 'component', '04009', '绿地维护设施 → 绿地附属设施'),
    ('component', '0501', 'component', '03008', '宣传栏 moved to 03'),
    ('component', '0503', 'component', '05002', '公房地下室'),
    ('component', '0603', 'component', '01069', '水域附属设施 moved to 01'),
    ('component', '0604', 'component', '01070', '水域护栏 moved to 01'),
    ('component', '0606', 'component', '01071', '防汛墙 moved to 01'),
    ('event', '0109', 'matter', '06019', '非装饰性树挂 → 非装饰性吊挂'),
    ('event', '0202', 'matter', '07006', '违章张贴悬挂广告牌匾 → 违规牌匾标识'),
    ('event', '0203', 'matter', '07003', '占道广告牌 → 违规户外广告'),
    ('event', '0401', 'matter', '06013', '路面塌陷 → 道路破损 (broader)'),
    ('event', '0503', 'matter', '09004', '占道废品收购 → 废品收购乱象'),
    ('event', '0507', 'matter', '06036', '乱堆物堆料 → 乱堆杂物'),
    ('event', '0508', 'matter', '06028', '商业噪音 → 噪声扰民 (broader)')
) AS m(from_kind, from_code, to_kind, to_code, note)
ON CONFLICT DO NOTHING;

CREATE VIEW catalog_mapping_unmapped AS
SELECT o.standard, o.kind, o.code, o.name
FROM code_catalog o
WHERE o.standard = 'CJ/T 214-2007'
  AND NOT EXISTS (SELECT 1 FROM catalog_mapping m
                  WHERE (m.from_standard, m.from_kind, m.from_code) = (o.standard, o.kind, o.code));
