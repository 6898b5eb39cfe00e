DROP TABLE IF EXISTS assessment_result, assessment_event, ops_report, ops_fault, ops_inspection, ops_lead_absence,
    ops_spot_check, ops_attendance, ops_roster, ops_staff, ops_check_item, assessment_report_kind, assessment_rule,
    assessment_item, assessment_grade, assessment_stage, assessment_contract;
DROP FUNCTION IF EXISTS assessment_guard_month();
DROP FUNCTION IF EXISTS assessment_month_locked(date);
DELETE FROM app_user_role WHERE role_code = 'ops_staff';
DELETE FROM app_role WHERE code = 'ops_staff';
