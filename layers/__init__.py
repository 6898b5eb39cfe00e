"""OGC API publication of civicgrid's layers (图层发布): pygeoapi at /ogc plus our fast Features engine.

- `collections.py` — the registry: every collection declared once (table, properties, titles, editing, tiles);
                     pygeoapi's resource entries are generated from it
- `models.py`      — the property models an editor's writes are validated with
- `ogc.py`         — start-up (config validation, missing tables, pygeoapi import → the app state's `ogc`)
                     and the /ogc mount
- `features.py`    — OGC API Features Parts 1–3: one SQL statement per page, GeoJSON written by PostGIS
- `cql.py`         — CQL2 text/JSON → psycopg `sql.Composed`
- `edit.py`        — Part 4 writes with validation, ETag/If-Match and history
- `provider.py`    — the pygeoapi provider (metadata, queryables, HTML pages) over the same SQL
- `tiles.py`       — MVT tiles of the tiled collections and the offline basemap, cached in PostgreSQL
- `sample.py`      — a tiny synthetic town for tests
See README.md beside this file.
"""
