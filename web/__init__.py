"""The web app (一张图) at `/`.

- `site.py`     serves Vite's build `dist/` (hashed /assets/*, index.html for client routes) last,
                and the imagery archive
- `imagery.py`  draws the synthetic imagery basemap (rasterio) and packs it into PMTiles
- `cli.py`      `civicgrid basemap build`
- `src/`        the app (Vue 3 + Element Plus + MapLibre); `npm ci && npm run build` builds it into
                `dist/` (package.json, vite.config.js; scripts/setup.sh does it at set-up)

The vector basemap and the layers are vector tiles from /ogc (civicgrid.layers.tiles).
"""
