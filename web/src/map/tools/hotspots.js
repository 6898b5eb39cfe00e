// 热点分析 (hotspots): Getis-Ord Gi* over square cells or unit grids by the server's `hotspots`
// process; each unit coloured by its confidence bin (hot red, cold blue, as ArcGIS draws them).
import {reactive} from 'vue';

import {debugHandle} from '../map.js';
import {sourceInputs} from './analysis/legend.js';
import {Overlay} from './analysis/overlay.js';
import {execute} from './analysis/processes.js';

const ID = 'hotspot-cells';
export const BINS = [
    [3, '#d73027', '热点（99% 置信度）'], [2, '#fc8d59', '热点（95% 置信度）'], [1, '#fee090', '热点（90% 置信度）'],
    [0, '#f7f7f7', '不显著'],
    [-1, '#e0f3f8', '冷点（90% 置信度）'], [-2, '#91bfdb', '冷点（95% 置信度）'], [-3, '#4575b4', '冷点（99% 置信度）'],
];

export const hotState = reactive({
    form: {source: 'cases', dates: null, category: [], units: 'cells', cell_size: 300, neighbours: 'queen', distance: 500, fdr: false},
    busy: false, error: '', cells: 0, hot: 0, cold: 0,
});
const runtime = {map: null, overlay: null, popupClick: null};

function overlay() {
    return new Overlay(ID, [
        {id: `${ID}-fill`, type: 'fill', paint: {
            'fill-color': ['match', ['get', 'bin'], ...BINS.flatMap(([b, c]) => [b, c]), '#f7f7f7'],
            'fill-opacity': ['case', ['==', ['get', 'bin'], 0], 0.15, 0.7]}},
        {id: `${ID}-line`, type: 'line', filter: ['!=', ['get', 'bin'], 0], paint: {'line-color': '#ffffff', 'line-width': 0.5}},
    ], {promoteId: 'id'});
}

export async function runHotspots(window = null) {
    const f = hotState.form;
    hotState.error = '';
    hotState.busy = true;
    const inputs = {...sourceInputs(f, window), units: f.units, neighbours: f.neighbours, fdr: f.fdr};
    if (f.units === 'cells') inputs.cell_size = f.cell_size;
    if (f.neighbours === 'distance') inputs.distance = f.distance;
    try {
        const doc = await execute('hotspots', inputs);
        runtime.overlay.setData(doc);
        hotState.cells = doc.features?.length ?? 0;
        hotState.hot = doc.hot ?? 0;
        hotState.cold = doc.cold ?? 0;
        return hotState.cells;
    } catch (error) {
        hotState.error = error.message;
        return null;
    } finally {
        hotState.busy = false;
    }
}

export default {
    id: 'hotspots',
    title: '热点分析',
    icon: 'hot',
    panel: () => import('./HotspotsPanel.vue'),
    activate(map) {
        runtime.map = map;
        runtime.overlay = overlay().add(map);
        Object.assign(debugHandle(), {hotspots: {state: hotState, run: runHotspots}});
    },
    deactivate() {
        runtime.overlay?.remove();
        runtime.overlay = null;
        hotState.cells = 0;
        runtime.map = null;
    },
};
