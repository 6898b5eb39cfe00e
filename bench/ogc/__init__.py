"""bench/ogc: civicgrid's OGC API against stock pygeoapi, tipg and a bare Starlette route (see README.md)."""
