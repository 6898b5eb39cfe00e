// 专题图 (choropleth): one indicator of the area evaluation (`area-evaluation` process: 立案数,
// 结案率, 按期结案率 … 综合得分) per unit grid or community for a period, in quantile classes.
import {reactive} from 'vue';

import {debugHandle} from '../map.js';
import {breaks, flyToGeometry, Overlay, RAMP, ramp} from './analysis/overlay.js';
import {execute, isoRange} from './analysis/processes.js';

const ID = 'thematic-areas';
// indicator → [名称, higher is better, is a rate]; names as in processes/evaluation.yml `labels`
export const INDICATORS = {
    score: ['综合得分', true, false], filed: ['立案数', false, false], closed: ['结案数', true, false],
    closed_rate: ['结案率', true, true], on_time_closed_rate: ['按期结案率', true, true],
    rework_rate: ['返工率', false, true], public_report_rate: ['监督举报率', false, true],
    reworked: ['返工数', false, false], public_reports: ['监督举报数', false, false],
};
const GOOD = ['#d7191c', '#fdae61', '#ffffbf', '#a6d96a', '#1a9641'];   // red (bad) → green (good)

function lastMonths(n = 3) {
    const now = new Date(Date.now() + 8 * 3600_000);
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - n, 1));
    return [start.toISOString().slice(0, 10), now.toISOString().slice(0, 10)];
}

export const themeState = reactive({
    form: {level: 'unit_grid', indicator: 'score', dates: lastMonths()},
    busy: false, error: '', features: [], legend: [], selected: null,
});
const runtime = {map: null, overlay: null};

export function formatValue(indicator, v) {
    if (v === null || v === undefined) return '无数据';
    return INDICATORS[indicator]?.[2] ? `${(v * 100).toFixed(1)}%` : Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function overlay() {
    const picked = ['boolean', ['feature-state', 'selected'], false];
    return new Overlay(ID, [
        {id: `${ID}-fill`, type: 'fill', paint: {'fill-color': '#cccccc', 'fill-opacity': ['case', picked, 0.9, 0.7]}},
        {id: `${ID}-line`, type: 'line', paint: {'line-color': ['case', picked, '#1f4e79', '#ffffff'], 'line-width': ['case', picked, 3, 0.6]}},
    ]);
}

export function restyle() {
    const {indicator} = themeState.form;
    const [, higherIsBetter] = INDICATORS[indicator];
    const values = themeState.features.map(x => x.properties[indicator]).filter(v => v !== null && v !== undefined);
    const colours = higherIsBetter ? GOOD : [...GOOD].reverse();
    const {expression, legend} = ramp(indicator, breaks(values, 5), colours, v => formatValue(indicator, v));
    const paint = ['case', ['==', ['get', indicator], null], '#d9d9d9', expression];
    runtime.map?.setPaintProperty(`${ID}-fill`, 'fill-color', paint);
    themeState.legend = [...legend, {color: '#d9d9d9', label: '无数据'}];
}

export async function runThematic() {
    const f = themeState.form;
    themeState.error = '';
    if (!f.dates?.[0] || !f.dates?.[1]) {
        themeState.error = '请选择评价时段';
        return null;
    }
    themeState.busy = true;
    try {
        const doc = await execute('area-evaluation', {level: f.level, ...isoRange(f.dates), format: 'geojson'});
        const features = (doc.features ?? []).filter(x => x.geometry)
            .map((x, i) => ({...x, _rid: i, properties: {...x.properties, _rid: i}}));
        themeState.features = features;
        themeState.selected = null;
        runtime.overlay.setData({type: 'FeatureCollection', features});
        restyle();
        return features.length;
    } catch (error) {
        themeState.error = error.message;
        return null;
    } finally {
        themeState.busy = false;
    }
}

export function hoverArea(id) {
    runtime.overlay?.mark('hover', id);
}

export function selectArea(id, fly = true) {
    themeState.selected = id;
    runtime.overlay?.mark('selected', id);
    const feature = themeState.features.find(x => x._rid === id);
    if (fly && feature) flyToGeometry(runtime.map, feature.geometry, 16);
}

export default {
    id: 'thematic',
    title: '专题图',
    icon: 'map',
    panel: () => import('./ThematicPanel.vue'),
    activate(map) {
        runtime.map = map;
        runtime.overlay = overlay().add(map, {type: 'FeatureCollection', features: themeState.features});
        if (themeState.features.length) restyle();
        runtime.overlay.onClick([`${ID}-fill`], feature => selectArea(feature.properties._rid, false));
        Object.assign(debugHandle(), {thematic: {state: themeState, run: runThematic}});
    },
    deactivate() {
        runtime.overlay?.remove();
        runtime.overlay = null;
        runtime.map = null;
    },
};
