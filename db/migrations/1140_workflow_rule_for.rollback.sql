DROP FUNCTION IF EXISTS workflow_rule_for(text, text, boolean);
