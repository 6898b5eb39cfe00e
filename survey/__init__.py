"""Urban-component survey (部件普查): import surveyors' files, check every row set-based in PostgreSQL,
stage them as a batch, publish atomically into the live `component` layer (with history and batch
rollback), report changes and coverage, and export the live layer in any accepted CRS and standard.

- reader.py   files (GPKG, zipped SHP, GeoJSON, CSV, DXF) → attribute rows + EPSG:4490 geometry; CRS rules
- mapping.py  the YAML field mapping from a surveyor's columns to the 18 standard attributes
- service.py  import / check / publish / rollback / batches (SQL in sql/check.sql)
- report.py   change and coverage reports as JSON, XLSX and HTML with a folium map (Leaflet in vendor/)
- export.py   the live layer to GPKG / SHP (zip) / GeoJSON / CSV under either standard's codes
- cli.py      `civicgrid survey …`;  api.py  /api/survey/…;  testing.py  builders for tests and the bench
"""
