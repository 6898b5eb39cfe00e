-- Corrections of staged survey rows (更正记录), made in the web page before a batch is published:
-- which attributes and/or the geometry of which row changed, from what to what, by whom and when.
-- The row itself (survey_row) holds the corrected values and is checked again; this table is the
-- batch's record of what was changed against the surveyor's file.
-- depends: 0200_survey

CREATE TABLE survey_correction (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch         text NOT NULL,
    row_no        integer NOT NULL,
    corrected_at  timestamptz NOT NULL DEFAULT now(),
    corrected_by  text NOT NULL DEFAULT cg_actor(),
    -- {abbreviation: {"before": text|null, "after": text|null}}; "geometry": {"before", "after"} as GeoJSON
    changes       jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'object' AND changes <> '{}'::jsonb),
    note          text CHECK (length(note) <= 500),
    FOREIGN KEY (batch, row_no) REFERENCES survey_row (batch, row_no) ON DELETE CASCADE
);
CREATE INDEX survey_correction_row_idx ON survey_correction (batch, row_no, id);
