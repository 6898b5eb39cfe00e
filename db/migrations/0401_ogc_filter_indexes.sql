-- Indexes for the OGC API filters clients use most (layers/): components by class code alone
-- (`type_code IN (...)` in id order, so a page of one class reads only that page; the foundation's
-- (standard, type_code) index cannot serve it).
-- depends: 0400_ogc_views

CREATE INDEX component_type_code_idx ON component (type_code, id);
