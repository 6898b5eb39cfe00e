-- Which workflow a new case gets (流程选用规则) as one function, so the intake (cases/sql/enrich.sql)
-- and the designer's preview (GET /api/workflow-rules/preview) can never disagree.
-- Most specific wins: a rule naming self-handling over one that does not, a rule naming the channel
-- over one for any channel, the longest category prefix, then the oldest rule.
-- depends: 0100_cases
CREATE FUNCTION workflow_rule_for(p_channel text, p_category text, p_self_handled boolean)
RETURNS SETOF workflow_rule LANGUAGE sql STABLE AS $$
    SELECT * FROM workflow_rule
    WHERE (channel IS NULL OR channel = p_channel)
      AND (category_prefix IS NULL OR left(p_category, length(category_prefix)) = category_prefix)
      AND (self_handled IS NULL OR self_handled = p_self_handled)
    ORDER BY (self_handled IS NOT NULL) DESC, (channel IS NOT NULL) DESC,
             length(category_prefix) DESC NULLS LAST, id
    LIMIT 1
$$;
