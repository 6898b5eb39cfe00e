// Drawing the area of a query with terra-draw (its MapLibre adapter): polygon, rectangle, circle, or
// a point for a buffer. shape(mode) resolves with the finished geometry (lon/lat, GeoJSON).
import {TerraDraw, TerraDrawCircleMode, TerraDrawPointMode, TerraDrawPolygonMode, TerraDrawRectangleMode} from 'terra-draw';
import {TerraDrawMapLibreGLAdapter} from 'terra-draw-maplibre-gl-adapter';

const STYLE = {fillColor: '#1f77b4', outlineColor: '#1f4e79', fillOpacity: 0.12, outlineWidth: 2};

export class AreaDrawer {
    constructor(map) {
        this.map = map;
        this.draw = new TerraDraw({
            adapter: new TerraDrawMapLibreGLAdapter({map, prefixId: 'query-draw'}),
            modes: [
                new TerraDrawPolygonMode({styles: STYLE}),
                new TerraDrawRectangleMode({styles: STYLE}),
                new TerraDrawCircleMode({styles: STYLE}),
                new TerraDrawPointMode({styles: {pointColor: '#1f4e79', pointWidth: 5}}),
            ],
        });
        this.draw.start();
        this.pending = null;
        this.draw.on('finish', id => {
            const feature = this.draw.getSnapshotFeature(id);
            const done = this.pending;
            this.pending = null;
            this.draw.setMode('static');
            if (done && feature) done(feature.geometry);
        });
    }

    // mode: polygon | rectangle | circle | point
    shape(mode) {
        this.draw.clear();
        this.draw.setMode(mode);
        return new Promise(resolve => { this.pending = resolve; });
    }

    clear() {
        this.pending = null;
        this.draw.clear();
        this.draw.setMode('static');
    }

    stop() {
        this.pending = null;
        try {
            this.draw.clear();
            this.draw.stop();
        } catch {
            // the map may already be gone (page left): nothing to clean
        }
    }
}
