DROP TABLE IF EXISTS case_event, cases, case_urgency, case_channel, poi, officer_position CASCADE;
DROP FUNCTION IF EXISTS ensure_position_partitions(timestamptz, timestamptz);
DROP TABLE IF EXISTS component_history, component, data_source, component_status,
    department_responsibility, department, department_kind, responsibility_grid_member,
    responsibility_grid, officer, unit_grid, community, community_kind, town,
    standard_attribute, code_catalog, code_catalog_kind, code_standard CASCADE;
DROP FUNCTION IF EXISTS cg_check_inside_town(), cg_check_unit_grids(), cg_check_components(),
    cg_component_history_ins(), cg_component_history_upd(), cg_component_history_del(),
    refresh_responsibility_geom(text[]), cg_member_changed(), cg_actor(), uscc_is_valid(text),
    cg_refuse(text, text, text);
