// 热力图 (heatmap): cases, components or officer positions counted per square, hexagon or H3 cell
// by the server's `heatmap` process, drawn with a quantile colour ramp and its legend; the kernel
// density (KDE) comes back as a PNG for the view's extent, placed by its EPSG:4548 corners. A time
// slider steps through days, weeks or months of the chosen range.
import {reactive} from 'vue';

import {CGCS2000, EPSG_4548} from '../../lib/coords.js';
import {debugHandle} from '../map.js';
import {sourceInputs} from './analysis/legend.js';
import {breaks, Overlay, RAMP, ramp} from './analysis/overlay.js';
import {execute, executeBlob} from './analysis/processes.js';

const ID = 'heatmap-cells';
const KDE = 'heatmap-kde';

export const heatState = reactive({
    form: {source: 'cases', dates: null, category: [], method: 'square', cell_size: 200, h3_resolution: 9, bandwidth: 200},
    busy: false, error: '', legend: [], cells: 0, total: null, windowLabel: '', kdeUrl: null,
});
const runtime = {map: null, overlay: null, serial: 0};

function cellsOverlay() {
    return new Overlay(ID, [
        {id: `${ID}-fill`, type: 'fill', paint: {'fill-color': RAMP[0], 'fill-opacity': 0.7, 'fill-outline-color': 'rgba(255,255,255,0.5)'}},
    ], {promoteId: 'cell'});
}

function removeKde(map) {
    if (map?.getLayer(`${KDE}-raster`)) map.removeLayer(`${KDE}-raster`);
    if (map?.getSource(KDE)) map.removeSource(KDE);
    if (heatState.kdeUrl) URL.revokeObjectURL(heatState.kdeUrl);
    heatState.kdeUrl = null;
}

// the KDE raster's corners: the view box in EPSG:4548 snapped to the cell grid as the server does
export async function kdeCorners(bbox, cell) {
    const {default: proj4} = await import('proj4');
    const p = proj4(CGCS2000, EPSG_4548);
    const [w, s, e, n] = bbox;
    const xy = [[w, s], [e, s], [e, n], [w, n]].map(c => p.forward(c));
    const x0 = Math.floor(Math.min(...xy.map(c => c[0])) / cell) * cell;
    const y0 = Math.floor(Math.min(...xy.map(c => c[1])) / cell) * cell;
    const nx = Math.max(1, Math.ceil((Math.max(...xy.map(c => c[0])) - x0) / cell));
    const ny = Math.max(1, Math.ceil((Math.max(...xy.map(c => c[1])) - y0) / cell));
    const x1 = x0 + nx * cell, y1 = y0 + ny * cell;
    return [[x0, y1], [x1, y1], [x1, y0], [x0, y0]].map(c => p.inverse(c));
}

export async function runHeatmap(window = null) {
    const map = runtime.map;
    const f = heatState.form;
    const serial = ++runtime.serial;
    heatState.error = '';
    heatState.busy = true;
    heatState.windowLabel = window?.label ?? '';
    const inputs = {...sourceInputs(f, window), method: f.method};
    if (f.method === 'h3') inputs.h3_resolution = f.h3_resolution;
    else inputs.cell_size = f.cell_size;
    try {
        if (f.method === 'kde') {
            const b = map.getBounds();
            const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(v => Number(v.toFixed(6)));
            Object.assign(inputs, {bandwidth: f.bandwidth, format: 'png', bbox});
            const [blob, corners] = await Promise.all([executeBlob('heatmap', inputs), kdeCorners(bbox, f.cell_size)]);
            if (serial !== runtime.serial) return null;
            runtime.overlay?.setData(null);
            removeKde(map);
            heatState.kdeUrl = URL.createObjectURL(blob);
            map.addSource(KDE, {type: 'image', url: heatState.kdeUrl, coordinates: corners});
            map.addLayer({id: `${KDE}-raster`, type: 'raster', source: KDE, paint: {'raster-opacity': 0.8, 'raster-fade-duration': 0}});
            heatState.legend = [{color: '#ffff00', label: '低'}, {color: '#ff8000', label: '中'}, {color: '#ff0000', label: '高（核密度，点/km²）'}];
            heatState.cells = null;
            heatState.total = null;
            return blob.size;
        }
        const doc = await execute('heatmap', inputs);
        if (serial !== runtime.serial) return null;
        removeKde(map);
        const features = (doc.features ?? []).map((feature, i) => ({...feature, properties: {...feature.properties, cell: i}}));
        const {expression, legend} = ramp('count', breaks(features.map(x => x.properties.count)));
        map.setPaintProperty(`${ID}-fill`, 'fill-color', expression);
        runtime.overlay.setData({type: 'FeatureCollection', features});
        heatState.legend = legend;
        heatState.cells = features.length;
        heatState.total = doc.total ?? features.reduce((n, x) => n + (x.properties.count ?? 0), 0);
        return features.length;
    } catch (error) {
        heatState.error = error.message;
        return null;
    } finally {
        if (serial === runtime.serial) heatState.busy = false;
    }
}

export function clearHeatmap() {
    runtime.overlay?.setData(null);
    removeKde(runtime.map);
    heatState.legend = [];
    heatState.cells = 0;
    heatState.total = null;
}

export default {
    id: 'heatmap',
    title: '热力图',
    icon: 'heat',
    panel: () => import('./HeatmapPanel.vue'),
    activate(map) {
        runtime.map = map;
        runtime.overlay = cellsOverlay().add(map);
        Object.assign(debugHandle(), {heatmap: {state: heatState, run: runHeatmap}});
    },
    deactivate() {
        runtime.serial++;
        removeKde(runtime.map);
        runtime.overlay?.remove();
        runtime.overlay = null;
        heatState.legend = [];
        heatState.cells = 0;
        heatState.busy = false;
        runtime.map = null;
    },
};
