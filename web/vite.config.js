// Vite builds the app into dist/ with hashed names (served by web/site.py; nothing from a CDN).
// `npm run dev` proxies the server parts to a running `civicgrid serve` (CIVICGRID_DEV_SERVER).
import vue from '@vitejs/plugin-vue';
import {defineConfig} from 'vite';

const backend = process.env.CIVICGRID_DEV_SERVER ?? 'http://127.0.0.1:8000';

export default defineConfig({
    plugins: [vue()],
    build: {
        outDir: 'dist',
        assetsDir: 'assets',
        target: 'es2020',
        // MapLibre alone is ~1 MB minified; it gets its own long-cached chunk
        chunkSizeWarningLimit: 1200,
        rollupOptions: {
            output: {
                manualChunks(id) {
                    // its style sheet stays with the app's CSS: in this chunk it would make every page
                    // import (and wait for) the 1 MB of MapLibre just for the CSS
                    if (id.includes('/node_modules/maplibre-gl/') && !id.endsWith('.css')) return 'maplibre';
                    if (/\/node_modules\/(@vue|vue|vue-router|pinia)\//.test(id)) return 'vue';
                    return undefined;
                },
            },
        },
    },
    server: {
        proxy: Object.fromEntries(['/api', '/ogc', '/basemap'].map(p => [p, backend])),
    },
    test: {
        include: ['test/**/*.test.js'],
        environment: 'node',
    },
});
