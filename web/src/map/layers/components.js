// 城市部件: urban components (GB/T 47678.5-2026 major classes by colour), clustered below zoom 15.
import {CLUSTER_RADIUS, FONT, propertyRows, slot, tileSource} from './common.js';
import PALETTE from './palette.json';

// colours from palette.json (shared with the GeoServer styles, geoserver/sld.py)
const P = PALETTE['urban-components'];
const MAJOR = P.classes.map(c => [c.value, c.fill, c.label]);
const MAJOR_COLOURS = ['match', ['get', 'major'], ...MAJOR.flatMap(([code, colour]) => [code, colour]), P.fill];
const SRC = {source: 'urban-components', 'source-layer': 'urban-components'};

export default {
    id: 'urban-components',
    collection: 'urban-components',
    // the same components published by geometry kind for desktop GIS (QGIS, GDAL): no layers of their own here
    covers: ['urban-components-points', 'urban-components-lines', 'urban-components-polygons'],
    title: '城市部件',
    folder: '城市管理',
    visible: true,
    sources: () => ({'urban-components': tileSource('urban-components')}),
    layers: [
        slot('point', {id: 'components-cluster', type: 'circle', ...SRC, filter: ['has', 'count'], paint: {
            'circle-color': MAJOR_COLOURS, 'circle-opacity': 0.75, 'circle-radius': CLUSTER_RADIUS,
            'circle-stroke-color': '#fff', 'circle-stroke-width': 1}}),
        slot('point', {id: 'components-cluster-count', type: 'symbol', ...SRC,
            filter: ['all', ['has', 'count'], ['>=', ['get', 'count'], 10]],
            layout: {'text-field': ['to-string', ['get', 'count']], 'text-font': FONT, 'text-size': 10,
                'text-allow-overlap': true},
            paint: {'text-color': '#fff'}}),
        slot('point', {id: 'components-point', type: 'circle', ...SRC, filter: ['!', ['has', 'count']], paint: {
            'circle-color': MAJOR_COLOURS,
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 2.2, 18, 6],
            'circle-stroke-color': ['match', ['get', P.problem.property], P.problem.ok, P.stroke, P.problem.stroke],
            'circle-stroke-width': ['match', ['get', P.problem.property], P.problem.ok, P.strokeWidth, P.problem.strokeWidth]}}),
    ],
    legend: [...MAJOR.map(([code, colour, name]) => ({label: name, color: colour, kind: 'circle', labelOf: ['urban-components', 'major', code]})),
        {label: P.problem.label, color: P.stroke, stroke: P.problem.stroke, kind: 'circle'}],
    clickable: ['components-point', 'components-cluster'],
    popup: (feature, ctx) => {
        const p = feature.properties;
        return {title: p.count ? `城市部件聚合：${p.count} 个` : `城市部件 · ${p.name ?? ''}`,
            rows: propertyRows(feature, ctx, 'urban-components')};
    },
};
