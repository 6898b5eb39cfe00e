-- Where the actor stood when acting (现场位置): the phone's GPS sent with an action such as the grid
-- officer's 核实/核查 (the transition's `position` in its workflow), and how accurate it claimed to be.
-- Not checked against the town boundary: an officer may stand just outside it.
-- depends: 0001_foundation
ALTER TABLE case_event
    ADD COLUMN position geometry(Point, 4490),
    ADD COLUMN position_accuracy_m real CHECK (position_accuracy_m >= 0);
