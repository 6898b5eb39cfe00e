// 单元网格: unit grids as vector tiles from /ogc.
import {propertyRows, slot, tileSource} from './common.js';
import PALETTE from './palette.json';

const P = PALETTE['unit-grids'];   // shared with the GeoServer styles (geoserver/sld.py)

export default {
    id: 'unit-grids',
    collection: 'unit-grids',
    title: '单元网格',
    folder: '基础地理',
    visible: true,
    sources: () => ({'unit-grids': tileSource('unit-grids', {minzoom: 10})}),
    layers: [
        // the (nearly clear) fill is there to be clicked; below 14 the cells are too small to aim at,
        // and leaving it out spares the first load thousands of triangulated polygons
        slot('area', {id: 'unit-grids-fill', type: 'fill', source: 'unit-grids', 'source-layer': 'unit-grids', minzoom: 14,
            paint: {'fill-color': P.fill, 'fill-opacity': P.fillOpacity}}),
        slot('area-line', {id: 'unit-grids-line', type: 'line', source: 'unit-grids', 'source-layer': 'unit-grids', minzoom: 12,
            paint: {'line-color': P.stroke, 'line-opacity': P.strokeOpacity,
                'line-width': ['interpolate', ['linear'], ['zoom'], 12, 0.3, 16, P.strokeWidth]}}),
    ],
    legend: [{label: P.label, color: P.fill, kind: 'fill'}],
    clickable: ['unit-grids-fill'],
    popup: (feature, ctx) => ({
        title: `单元网格 · ${feature.properties.name ?? feature.properties.code}`,
        rows: propertyRows(feature, ctx, 'unit-grids'),
    }),
};
