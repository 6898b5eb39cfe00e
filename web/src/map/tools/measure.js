// 测量: distance along a polyline and area of a polygon, on the CGCS2000 ellipsoid, updated while
// drawing and after each edit (select mode: drag vertices or the whole shape).
import {reactive} from 'vue';

import {lineLength, perimeter, polygonArea} from '../../lib/geodesy.js';
import {formatArea, formatLength} from '../../lib/units.js';
import {createDraw, stopDraw} from '../draw.js';
import {debugHandle} from '../map.js';

export const state = reactive({mode: 'linestring', items: []});
let draw = null;
let map = null;

const COLOUR = '#e4572e';
const styles = mode => ({
    linestring: {lineStringColor: COLOUR, lineStringWidth: 3},
    polygon: {fillColor: COLOUR, fillOpacity: 0.15, outlineColor: COLOUR, outlineWidth: 2},
    select: {selectedLineStringColor: '#1f4e79', selectedPolygonColor: '#1f4e79', selectedPolygonOutlineColor: '#1f4e79'},
}[mode] ?? {});

function measureOf(feature) {
    const g = feature.geometry;
    if (g.type === 'LineString') {
        const length = lineLength(g.coordinates);
        return {id: feature.id, kind: 'line', length_m: length, text: formatLength(length)};
    }
    if (g.type === 'Polygon') {
        const area = polygonArea(g.coordinates);
        const around = perimeter(g.coordinates);
        return {id: feature.id, kind: 'area', area_m2: area, perimeter_m: around, text: formatArea(area),
            perimeterText: formatLength(around)};
    }
    return null;
}

function recompute() {
    if (!draw) return;
    state.items = draw.getSnapshot().map(measureOf).filter(Boolean);
}

export function setMode(mode) {
    state.mode = mode;
    draw?.setMode(mode);
}

export function clear() {
    draw?.clear();
    state.items = [];
}

export default {
    id: 'measure',
    title: '测量',
    panel: () => import('./MeasurePanel.vue'),
    async activate(m) {
        map = m;
        draw = await createDraw(map, ['linestring', 'polygon'], styles);
        draw.on('change', recompute);
        draw.on('finish', recompute);
        setMode(state.mode === 'select' ? 'linestring' : state.mode);
        debugHandle().measure = state;
    },
    deactivate() {
        stopDraw(map, draw);
        draw = null;
        state.items = [];
    },
};
