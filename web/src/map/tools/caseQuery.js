// 事件查询 (case query): the case list's filters (GET /api/cases: time range, category tree, state,
// channel, urgency, community/grid, department, overdue, time-limit colour); the matches drawn in
// their SLA colours and listed in a table linked to the map; a case opens its page /cases/:id.
import {reactive} from 'vue';

import {api} from '../../api/client.js';
import {debugHandle} from '../map.js';
import {caseParams} from './analysis/caseParams.js';
import {flyToGeometry, Overlay} from './analysis/overlay.js';

export const CASE_LIMIT = 1000;
const ID = 'case-query-results';
export const SLA_COLOURS = {red: '#d62728', yellow: '#f2b01e', green: '#2ca02c'};
const CLOSED = '#5b6b7d';

export const caseState = reactive({
    filters: {dates: null, categories: [], state: [], channel: [], urgency: [], community: [], unit_grid: '',
        department: [], overdue: '', sla: [], is_closed: ''},
    busy: false, error: '', rows: [], total: null, selected: null, query: '', tree: [],
});
const runtime = {map: null, overlay: null, router: null};

function features(rows) {
    return rows.filter(r => r.lon !== null && r.lon !== undefined).map(r => ({
        type: 'Feature', id: r.id, geometry: {type: 'Point', coordinates: [r.lon, r.lat]},
        properties: {_rid: r.id, sla_color: r.sla_color ?? '', is_closed: r.is_closed, case_number: r.case_number}}));
}

export async function runCaseQuery() {
    caseState.error = '';
    caseState.busy = true;
    const params = caseParams(caseState.filters);
    caseState.query = params.toString();
    params.set('limit', String(CASE_LIMIT));
    params.set('order', '-reported_at');
    try {
        const doc = await api.get(`/api/cases?${params}`);
        caseState.rows = doc.cases.map(r => ({...r, _rid: r.id}));
        caseState.total = doc.total;
        caseState.selected = null;
        runtime.overlay?.setData({type: 'FeatureCollection', features: features(caseState.rows)});
        return doc.total;
    } catch (error) {
        caseState.error = error.message;
        return null;
    } finally {
        caseState.busy = false;
    }
}

export async function loadTree() {
    if (!caseState.tree.length) caseState.tree = (await api.get('/api/catalog')).tree;
    return caseState.tree;
}

export function hoverCase(id) {
    runtime.overlay?.mark('hover', id);
}

export function selectCase(id, fly = true) {
    caseState.selected = id;
    runtime.overlay?.mark('selected', id);
    const row = caseState.rows.find(r => r._rid === id);
    if (fly && row?.lon !== null && row?.lon !== undefined && runtime.map) {
        flyToGeometry(runtime.map, {type: 'Point', coordinates: [row.lon, row.lat]});
    }
}

export function asFeatures(rows) {
    return rows.map(r => ({type: 'Feature', id: r.id,
        geometry: r.lon === null || r.lon === undefined ? null : {type: 'Point', coordinates: [r.lon, r.lat]},
        properties: Object.fromEntries(Object.entries(r).filter(([k, v]) => k !== '_rid' && typeof v !== 'object'))}));
}

function overlay() {
    const selected = ['boolean', ['feature-state', 'selected'], false];
    const hover = ['boolean', ['feature-state', 'hover'], false];
    return new Overlay(ID, [{
        id: `${ID}-point`, type: 'circle',
        paint: {
            'circle-color': ['case', ['==', ['get', 'is_closed'], true], CLOSED,
                ['match', ['get', 'sla_color'], ...Object.entries(SLA_COLOURS).flat(), '#1f77b4']],
            'circle-radius': ['case', ['any', selected, hover], 10, 6],
            'circle-stroke-color': ['case', selected, '#ff7f0e', '#ffffff'],
            'circle-stroke-width': ['case', selected, 3, 1.5],
        },
    }]);
}

export default {
    id: 'case_query',
    title: '事件查询',
    icon: 'document',
    panel: () => import('./CaseQueryPanel.vue'),
    activate(map) {
        runtime.map = map;
        runtime.overlay = overlay().add(map, {type: 'FeatureCollection', features: features(caseState.rows)});
        runtime.overlay.onClick([`${ID}-point`], feature => selectCase(feature.properties._rid, false));
        map.__civicgridToolActive = true;
        Object.assign(debugHandle(), {caseQuery: {state: caseState, params: () => caseParams(caseState.filters).toString(), run: runCaseQuery}});
    },
    deactivate() {
        runtime.overlay?.remove();
        runtime.overlay = null;
        if (runtime.map) runtime.map.__civicgridToolActive = false;
        runtime.map = null;
    },
};
