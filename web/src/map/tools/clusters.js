// 聚类 (clusters): DBSCAN of cases or components by the server's `cluster` process (eps in metres,
// minimum points); each cluster's hull drawn by its size, listed with its most frequent categories.
import {reactive} from 'vue';

import {FONT} from '../layers/common.js';
import {debugHandle} from '../map.js';
import {sourceInputs} from './analysis/legend.js';
import {breaks, flyToGeometry, Overlay, RAMP, ramp} from './analysis/overlay.js';
import {execute} from './analysis/processes.js';

const ID = 'cluster-hulls';

export const clusterState = reactive({
    form: {source: 'cases', dates: null, category: [], eps: 100, minpoints: 10},
    busy: false, error: '', features: [], noise: 0, legend: [], selected: null,
});
const runtime = {map: null, overlay: null};

function overlay() {
    const picked = ['boolean', ['feature-state', 'selected'], false];
    const hover = ['boolean', ['feature-state', 'hover'], false];
    return new Overlay(ID, [
        {id: `${ID}-fill`, type: 'fill', paint: {'fill-color': RAMP[2], 'fill-opacity': ['case', picked, 0.75, hover, 0.65, 0.5]}},
        {id: `${ID}-line`, type: 'line', paint: {'line-color': ['case', picked, '#1f4e79', '#bd0026'], 'line-width': ['case', picked, 3, 1.2]}},
        {id: `${ID}-count`, type: 'symbol', layout: {'text-field': ['to-string', ['get', 'count']], 'text-font': FONT,
            'text-size': 12, 'text-allow-overlap': true}, paint: {'text-color': '#1d2733', 'text-halo-color': '#fff', 'text-halo-width': 1.5}},
    ]);
}

export async function runClusters() {
    const f = clusterState.form;
    clusterState.error = '';
    clusterState.busy = true;
    try {
        const doc = await execute('cluster', {...sourceInputs(f), eps: f.eps, minpoints: f.minpoints});
        const features = (doc.features ?? []).map((x, i) => ({...x, _rid: i, properties: {...x.properties, _rid: i}}));
        const {expression, legend} = ramp('count', breaks(features.map(x => x.properties.count), 5));
        runtime.map.setPaintProperty(`${ID}-fill`, 'fill-color', expression);
        runtime.overlay.setData({type: 'FeatureCollection', features});
        clusterState.features = features;
        clusterState.noise = doc.noise ?? 0;
        clusterState.legend = legend;
        clusterState.selected = null;
        return features.length;
    } catch (error) {
        clusterState.error = error.message;
        return null;
    } finally {
        clusterState.busy = false;
    }
}

export function hoverCluster(id) {
    runtime.overlay?.mark('hover', id);
}

export function selectCluster(id, fly = true) {
    clusterState.selected = id;
    runtime.overlay?.mark('selected', id);
    const feature = clusterState.features.find(x => x._rid === id);
    if (fly && feature) flyToGeometry(runtime.map, feature.geometry, 17);
}

export default {
    id: 'clusters',
    title: '聚类',
    icon: 'cluster',
    panel: () => import('./ClustersPanel.vue'),
    activate(map) {
        runtime.map = map;
        runtime.overlay = overlay().add(map, {type: 'FeatureCollection', features: clusterState.features});
        runtime.overlay.onClick([`${ID}-fill`], feature => selectCluster(feature.properties._rid, false));
        Object.assign(debugHandle(), {clusters: {state: clusterState, run: runClusters}});
    },
    deactivate() {
        runtime.overlay?.remove();
        runtime.overlay = null;
        runtime.map = null;
    },
};
