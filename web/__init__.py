"""The web map (一张图) at `/`.

- `site.py`     mounts static/ (index.html, app.js, app.css, vendor/) last, and serves the imagery archive
- `imagery.py`  draws the synthetic imagery basemap (rasterio) and packs it into PMTiles
- `cli.py`      `civicgrid basemap build`
- `static/`     the page; `static/vendor/` is filled by `npm ci && npm run build` (package.json, build.mjs)

The vector basemap and the layers are vector tiles from /ogc (civicgrid.layers.tiles).
"""
