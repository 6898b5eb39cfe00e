-- The demo town's street network (arterials, streets, village lanes) for the base map.
-- Filled by `civicgrid demo load`; an installation with real data may leave it empty.
-- depends: 0002_code_catalogs

CREATE TABLE demo_road (
    id    integer PRIMARY KEY,
    name  text NOT NULL,                                   -- 仁和路, 府前街, 沙井东1巷 …
    class text NOT NULL CHECK (class IN ('arterial', 'street', 'lane')),
    geom  geometry(LineString, 4490) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX demo_road_geom_idx ON demo_road USING gist (geom);
