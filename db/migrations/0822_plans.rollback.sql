DROP TABLE IF EXISTS annotation;
DROP TABLE IF EXISTS annotation_plan;
DROP FUNCTION IF EXISTS annotation_touch_plan(), annotation_touch_plan_ins(), annotation_touch_plan_del();
DROP FUNCTION IF EXISTS cg_sees_plan(integer, text, text);
DROP FUNCTION IF EXISTS cg_user_id();
DROP TABLE IF EXISTS annotation_kind;
DROP TABLE IF EXISTS plan_visibility;
