// Copies the pinned npm builds the page loads into static/vendor/ (no CDN at run time).
// Run by `npm run build` after `npm ci` (scripts/setup.sh does both).
import {copyFileSync, mkdirSync, rmSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, 'static', 'vendor');
const files = {
    'maplibre-gl/dist/maplibre-gl.mjs': 'maplibre-gl/maplibre-gl.mjs',
    // loaded by maplibre-gl.mjs from its own directory
    'maplibre-gl/dist/maplibre-gl-worker.mjs': 'maplibre-gl/maplibre-gl-worker.mjs',
    'maplibre-gl/dist/maplibre-gl.css': 'maplibre-gl/maplibre-gl.css',
    'maplibre-gl/LICENSE.txt': 'maplibre-gl/LICENSE.txt',
    // the self-contained build: a global `pmtiles` (its ES module build imports fflate by bare name)
    'pmtiles/dist/pmtiles.js': 'pmtiles/pmtiles.js',
};
rmSync(vendor, {recursive: true, force: true});
for (const [from, to] of Object.entries(files)) {
    mkdirSync(dirname(join(vendor, to)), {recursive: true});
    copyFileSync(join(here, 'node_modules', from), join(vendor, to));
}
console.log(`copied ${Object.keys(files).length} files into static/vendor`);
