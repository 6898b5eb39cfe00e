// 标绘: points, lines, polygons, rectangles, circles, arrows and text on the map, with colour and
// width, saved on the server as named plans (标绘方案: /api/plans) whose shapes are features of the
// `annotations` collection (OGC API Features Part 4 writes with If-Match). Who sees a plan
// (private, one role, all staff) is decided by the server's row security.
import {reactive} from 'vue';

import {api, request} from '../../api/client.js';
import {arrowHead} from '../../lib/arrow.js';
import {createDraw, stopDraw} from '../draw.js';
import {debugHandle} from '../map.js';

const ITEMS = '/ogc/collections/annotations/items';
export const KINDS = [
    {kind: 'point', mode: 'point', title: '点'},
    {kind: 'line', mode: 'linestring', title: '线'},
    {kind: 'polygon', mode: 'polygon', title: '面'},
    {kind: 'rectangle', mode: 'rectangle', title: '矩形'},
    {kind: 'circle', mode: 'circle', title: '圆'},
    {kind: 'arrow', mode: 'linestring', title: '箭头'},
    {kind: 'text', mode: 'point', title: '文字'},
];
// terra-draw wants UUIDs; crypto.randomUUID exists only in secure contexts (https or localhost)
const uuid4 = () => (globalThis.crypto?.randomUUID?.() ?? 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, c => {
    const r = Math.random() * 16 | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
}));
const MODE_OF = Object.fromEntries(KINDS.map(k => [k.kind, k.mode]));

export const state = reactive({
    kind: 'polygon', color: '#d62728', width: 3, text: '文字标注',
    plans: [], plan: null, shapes: 0, dirty: false, busy: false, message: '',
});

let map = null;
let draw = null;
let serverIds = new Map();       // terra-draw id → annotations feature id
let removed = new Set();         // annotations ids to delete at the next save

const styleOf = f => f.properties?.style ?? {};
const colour = f => styleOf(f).color ?? state.color;
const width = f => Number(styleOf(f).width ?? state.width);

function styles(mode) {
    const lines = {lineStringColor: colour, lineStringWidth: width};
    const polygons = {fillColor: colour, fillOpacity: f => styleOf(f).fill_opacity ?? 0.2, outlineColor: colour,
        outlineWidth: width};
    return {
        point: {pointColor: colour, pointWidth: f => Math.max(4, width(f) + 3), pointOutlineColor: '#ffffff', pointOutlineWidth: 1.5},
        linestring: lines,
        polygon: polygons,
        rectangle: polygons,
        circle: polygons,
        select: {},
    }[mode] ?? {};
}

// text and arrow heads are drawn by our own layers from the same features
function ensureOverlay() {
    if (map.getSource('plot-overlay')) return;
    map.addSource('plot-overlay', {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
    map.addLayer({id: 'plot-arrow-heads', type: 'fill', source: 'plot-overlay', filter: ['==', ['geometry-type'], 'Polygon'],
        paint: {'fill-color': ['get', 'color'], 'fill-opacity': 0.95}});
    map.addLayer({id: 'plot-text', type: 'symbol', source: 'plot-overlay', filter: ['==', ['geometry-type'], 'Point'],
        layout: {'text-field': ['get', 'label'], 'text-font': ['WenQuanYi Micro Hei'], 'text-size': ['get', 'font_size'],
            'text-offset': [0, -1.1], 'text-anchor': 'bottom', 'text-allow-overlap': true},
        paint: {'text-color': ['get', 'color'], 'text-halo-color': '#ffffff', 'text-halo-width': 1.6}});
}

function refreshOverlay() {
    if (!draw || !map?.getSource('plot-overlay')) return;
    const features = [];
    for (const f of draw.getSnapshot()) {
        const p = f.properties;
        if (p.kind === 'arrow' && f.geometry.type === 'LineString') {
            const head = arrowHead(f.geometry.coordinates);
            if (head) features.push({type: 'Feature', geometry: head, properties: {color: colour(f)}});
        }
        if (p.kind === 'text' && f.geometry.type === 'Point') {
            features.push({type: 'Feature', geometry: f.geometry,
                properties: {label: p.label ?? '', color: colour(f), font_size: styleOf(f).font_size ?? 16}});
        }
    }
    map.getSource('plot-overlay').setData({type: 'FeatureCollection', features});
    state.shapes = draw.getSnapshot().filter(f => f.properties.kind).length;
}

function onFinish(id) {
    const kind = state.kind;
    const style = {color: state.color, width: state.width, fill_opacity: 0.2, font_size: 16};
    const props = {kind, style};
    if (kind === 'text') props.label = state.text || '文字标注';
    const feature = draw.getSnapshotFeature(id);
    if (kind === 'circle' && feature?.properties.radiusKilometers) props.radius_m = feature.properties.radiusKilometers * 1000;
    draw.updateFeatureProperties(id, props);
    state.dirty = true;
    refreshOverlay();
}

export function setKind(kind) {
    state.kind = kind;
    draw?.setMode(kind === 'select' ? 'select' : MODE_OF[kind]);
}

export function removeSelected() {
    if (!draw) return;
    const selected = draw.getSnapshot().filter(f => f.properties.selected).map(f => f.id);
    for (const id of selected) {
        if (serverIds.has(id)) removed.add(serverIds.get(id));
        serverIds.delete(id);
    }
    draw.removeFeatures(selected);
    state.dirty = selected.length > 0 || state.dirty;
    refreshOverlay();
}

function clearDrawing() {
    draw?.clear();
    serverIds = new Map();
    removed = new Set();
    state.dirty = false;
    refreshOverlay();
}

const listOf = answer => (Array.isArray(answer) ? answer : answer?.plans ?? answer?.items ?? []);

export async function loadPlans() {
    state.plans = listOf(await api.get('/api/plans'));
    return state.plans;
}

// the annotations feature as the server stores it
function toServer(f) {
    const p = f.properties;
    return {type: 'Feature', geometry: f.geometry,
        properties: {plan_id: state.plan.id, kind: p.kind, label: p.label ?? null, style: p.style ?? {},
            radius_m: p.radius_m ?? null}};
}

function fromServer(feature) {
    const p = feature.properties;
    const mode = MODE_OF[p.kind] ?? (feature.geometry.type === 'Point' ? 'point' : feature.geometry.type === 'LineString' ? 'linestring' : 'polygon');
    const props = {mode, kind: p.kind, style: typeof p.style === 'string' ? JSON.parse(p.style) : p.style ?? {}};
    if (p.label) props.label = p.label;
    if (p.radius_m) props.radius_m = p.radius_m;
    if (mode === 'circle' && p.radius_m) props.radiusKilometers = p.radius_m / 1000;
    return {id: uuid4(), type: 'Feature', geometry: feature.geometry, properties: props};
}

export async function openPlan(plan) {
    state.busy = true;
    try {
        clearDrawing();
        const {data, etag} = await request('GET', `/api/plans/${plan.id}`, {full: true});
        state.plan = {...plan, ...data, etag};
        const shapes = await api.get(`${ITEMS}?plan_id=${plan.id}&f=json&limit=1000`);
        const features = (shapes.features ?? []).map(f => [f.id, fromServer(f)]);
        const results = draw.addFeatures(features.map(([, f]) => f));
        results.forEach((r, i) => { if (r.valid) serverIds.set(r.id, features[i][0]); });
        state.dirty = false;
        refreshOverlay();
        state.message = `已打开“${state.plan.name}”，共 ${features.length} 个标绘`;
    } finally {
        state.busy = false;
    }
}

export async function createPlan({name, visibility, role}) {
    const {data, etag} = await request('POST', '/api/plans', {body: {name, visibility, role: role || null}, full: true});
    await loadPlans();
    state.plan = {...data, etag};
    // what is drawn now becomes the new plan's
    serverIds = new Map();
    removed = new Set();
    state.dirty = (draw?.getSnapshot().some(f => f.properties.kind)) ?? false;
    return state.plan;
}

export async function updatePlan(changes) {
    const {data, etag} = await request('PATCH', `/api/plans/${state.plan.id}`, {body: changes, ifMatch: state.plan.etag, full: true});
    state.plan = {...state.plan, ...data, etag};
    await loadPlans();
}

async function etagOf(id) {
    const {etag} = await request('GET', `${ITEMS}/${encodeURIComponent(id)}?f=json`, {full: true});
    return etag;
}

export async function savePlan() {
    if (!state.plan) throw new Error('请先新建或打开一个标绘方案');
    state.busy = true;
    try {
        for (const id of removed) {
            await request('DELETE', `${ITEMS}/${encodeURIComponent(id)}`, {ifMatch: await etagOf(id)});
        }
        removed = new Set();
        for (const f of draw.getSnapshot().filter(x => x.properties.kind)) {
            const body = toServer(f);
            const known = serverIds.get(f.id);
            if (known !== undefined) {
                await request('PUT', `${ITEMS}/${encodeURIComponent(known)}`, {body, ifMatch: await etagOf(known),
                    contentType: 'application/geo+json'});
            } else {
                const answer = await request('POST', ITEMS, {body, contentType: 'application/geo+json', full: true});
                const location = answer.headers.get('location');
                const id = answer.data?.id ?? (location ? decodeURIComponent(location.split('?')[0].split('/').pop()) : null);
                if (id !== null && id !== undefined) serverIds.set(f.id, id);
            }
        }
        state.dirty = false;
        await loadPlans();
        state.message = `已保存“${state.plan.name}”`;
    } finally {
        state.busy = false;
    }
}

export async function deletePlan() {
    if (!state.plan) return;
    await request('DELETE', `/api/plans/${state.plan.id}`, {ifMatch: state.plan.etag});
    state.plan = null;
    clearDrawing();
    await loadPlans();
}

export function exportUrl() {
    return state.plan ? `/api/plans/${state.plan.id}/export` : null;
}

export function newDrawing() {
    state.plan = null;
    clearDrawing();
}

export default {
    id: 'plot',
    title: '标绘',
    panel: () => import('./PlotPanel.vue'),
    async activate(m) {
        map = m;
        draw = await createDraw(map, ['point', 'linestring', 'polygon', 'rectangle', 'circle'], styles);
        ensureOverlay();
        draw.on('finish', id => {
            const f = draw.getSnapshotFeature(id);
            if (f && !f.properties.kind) onFinish(id);
        });
        draw.on('change', (ids, type) => {
            if (type === 'update' || type === 'delete') state.dirty = true;
            refreshOverlay();
        });
        setKind(state.kind);
        debugHandle().plot = {state, openPlan, savePlan, createPlan, loadPlans};
        loadPlans().catch(error => { state.message = `方案列表读取失败：${error.message}`; });
    },
    deactivate() {
        stopDraw(map, draw);
        for (const id of ['plot-text', 'plot-arrow-heads']) if (map?.getLayer(id)) map.removeLayer(id);
        if (map?.getSource('plot-overlay')) map.removeSource('plot-overlay');
        draw = null;
        state.plan = null;
        serverIds = new Map();
        removed = new Set();
        state.dirty = false;
    },
};
