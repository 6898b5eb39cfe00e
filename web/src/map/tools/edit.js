// 编辑 (GIS editors): edit the live layers on the map — urban components, POIs, unit grids and
// responsibility grids. A click selects the feature under it; a point is dragged, a line or polygon
// reshaped by its vertices (drag a vertex, drag a midpoint to add one, right-click to delete one),
// snapping to the vertices of the features already drawn on the map; new features are drawn and
// features deleted. The attribute form comes from the collection's queryables and the catalog
// (editForm.js). Writes are OGC API Features Part 4 with If-Match: a 412 shows what the other
// editor changed and lets the editor reload. The history of a feature (/api/features/…/history)
// shows who changed what, and one change can be reverted (…/revert, itself a new edit).
import {reactive} from 'vue';

import {ApiError, api, fieldErrors, request} from '../../api/client.js';
import {createDraw, stopDraw} from '../draw.js';
import {debugHandle} from '../map.js';
import {refreshSources} from '../refresh.js';
import {intersects} from './analysis/cql.js';
import {EDITABLE, differences, editableGeometry, formFields, fromForm, modeOfKind, nearestVertex, patchOf,
    savedGeometry, toForm, vertices} from './editForm.js';

const SNAP_LAYERS = ['components-point', 'pois-point', 'unit-grids-fill', 'unit-grids-line'];
const SNAP_PX = 10;
const SOURCES = {'urban-components': 'urban-components', pois: 'pois', 'unit-grids': 'unit-grids'};

export const state = reactive({
    collections: [], collection: null, fields: [], schema: null, classes: [],
    feature: null,          // {id, etag, properties, geometry} as loaded; id null while adding
    form: {}, errors: {}, geometryChanged: false, multi: false, geometryEditable: false,
    adding: false, drawn: false, snap: true, busy: false, message: '',
    conflict: null,         // {diffs, geometry, by, at, current}
    history: null,          // {changes, exists, version} of the loaded feature
    tab: 'attributes',
});

let map = null;
let draw = null;
let drawnId = null;
let loadedShape = null;     // the loaded geometry as terra-draw holds it (what "changed" compares with)
let clickHandler = null;
let ctx = null;
const queryables = new Map();

const uuid4 = () => (globalThis.crypto?.randomUUID?.() ?? 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, c => {
    const r = Math.random() * 16 | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
}));
const items = c => `/ogc/collections/${c}/items`;
const itemUrl = (c, id) => `${items(c)}/${encodeURIComponent(id)}`;
const historyUrl = (c, id) => `/api/features/${c}/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------- snapping to what the map shows

function snapToRendered(event) {
    if (!state.snap || !map) return undefined;
    const at = {x: event.containerX, y: event.containerY};
    const box = [[at.x - SNAP_PX, at.y - SNAP_PX], [at.x + SNAP_PX, at.y + SNAP_PX]];
    const layers = SNAP_LAYERS.filter(id => map.getLayer(id));
    const candidates = [];
    // not the feature being edited as the tiles still draw it: its old vertices would hold the drag
    const own = state.feature?.id ?? null;
    for (const f of map.queryRenderedFeatures(box, {layers})) {
        if (own !== null && String(f.properties.id ?? f.properties.code) === own) continue;
        candidates.push(...vertices(f.geometry));
    }
    return nearestVertex(at, candidates, c => map.project(c), SNAP_PX);
}
const SNAPPING = {toCustom: snapToRendered};

// ---------------------------------------------------------------- collection and form

export async function chooseCollection(collection) {
    state.collection = collection;
    clearFeature();
    if (!queryables.has(collection)) queryables.set(collection, await api.get(`/ogc/collections/${collection}/queryables`));
    state.schema = queryables.get(collection);
    state.fields = formFields(state.schema, collection);
    if (collection === 'urban-components' && !state.classes.length) await loadClasses();
}

async function loadClasses() {
    const {tree} = await api.get('/api/catalog');
    const classes = [];
    for (const root of tree ?? []) {
        if (root.kind !== 'component') continue;
        for (const major of root.children ?? []) {
            for (const c of major.children ?? []) classes.push({code: c.code, name: c.name, major: major.name,
                geometry_kind: c.geometry_kind, pinyin: c.pinyin, initials: c.initials});
        }
    }
    state.classes = classes;
}

function fillForm(properties) {
    const form = {};
    for (const f of state.fields) form[f.name] = toForm(f, properties?.[f.name]);
    state.form = form;
    state.errors = {};
}

// a department picked by its code: its name goes along (the component stores both)
export function departmentChosen(code) {
    const spec = EDITABLE[state.collection];
    if (!spec?.deptNameField) return;
    const name = ctx?.labels?.data?.departments?.[code];
    if (name) state.form[spec.deptNameField] = name;
}

// ---------------------------------------------------------------- the feature on the map

function clearDrawing() {
    draw?.clear();
    drawnId = null;
}

export function clearFeature() {
    clearDrawing();
    Object.assign(state, {feature: null, form: {}, errors: {}, geometryChanged: false, multi: false,
        geometryEditable: false, adding: false, drawn: false, conflict: null, history: null, tab: 'attributes'});
    draw?.setMode('select');
}

function showGeometry(geometry) {
    clearDrawing();
    const editable = state.collection === 'responsibility-grids' ? null : editableGeometry(geometry);
    state.geometryEditable = Boolean(editable);
    state.multi = editable?.multi ?? false;
    if (!editable) return;
    drawnId = uuid4();
    const [result] = draw.addFeatures([{id: drawnId, type: 'Feature', geometry: editable.geometry,
        properties: {mode: editable.mode}}]);
    if (!result?.valid) {
        drawnId = null;
        state.geometryEditable = false;
        return;
    }
    loadedShape = JSON.stringify(draw.getSnapshotFeature(drawnId).geometry);
    draw.setMode('select');
    draw.selectFeature(drawnId);
}

export async function loadFeature(collection, id, {keep = null} = {}) {
    if (state.collection !== collection) await chooseCollection(collection);
    const {data, etag} = await request('GET', `${itemUrl(collection, id)}?f=json`, {full: true});
    state.feature = {id: String(data.id ?? id), etag, properties: data.properties ?? {}, geometry: data.geometry};
    state.adding = false;
    state.conflict = null;
    state.geometryChanged = false;
    fillForm(state.feature.properties);
    if (keep) Object.assign(state.form, keep);
    showGeometry(data.geometry);
    state.message = `已选中：${state.feature.properties.name ?? state.feature.id}`;
    if (state.tab === 'history') await loadHistory();
    else state.history = null;
    return state.feature;
}

// the feature of the current collection under a click
async function featureAt(lngLat, point) {
    const spec = EDITABLE[state.collection];
    if (spec.areas) {
        const filter = JSON.stringify(intersects({type: 'Point', coordinates: [lngLat.lng, lngLat.lat]}));
        const doc = await api.get(`${items(state.collection)}?${new URLSearchParams({f: 'json', limit: '1',
            'filter-lang': 'cql2-json', filter, skipGeometry: 'true'})}`);
        return doc.features?.[0]?.id ?? null;
    }
    const pad = 8;
    const box = [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]];
    const layers = (spec.clickable ?? []).filter(id => map.getLayer(id));
    const hit = layers.length ? map.queryRenderedFeatures(box, {layers}).find(f => f.properties.id !== undefined) : null;
    if (hit) return hit.properties.id;
    // lines and polygons of the class are not in the point layers: ask the server around the click
    const sw = map.unproject([point.x - pad, point.y + pad]);
    const ne = map.unproject([point.x + pad, point.y - pad]);
    const doc = await api.get(`${items(state.collection)}?${new URLSearchParams({f: 'json', limit: '1',
        bbox: [sw.lng, sw.lat, ne.lng, ne.lat].map(v => v.toFixed(7)).join(','), skipGeometry: 'true'})}`);
    return doc.features?.[0]?.id ?? null;
}

export async function pickAt(lngLat, point) {
    if (state.busy || state.adding || dirty()) return null;
    state.busy = true;
    try {
        const id = await featureAt(lngLat, point);
        if (id === null || id === undefined) {
            state.message = '此处没有该图层的要素（城市部件请放大到 15 级以上）';
            return null;
        }
        return await loadFeature(state.collection, id);
    } catch (error) {
        state.message = `读取失败：${error.message}`;
        return null;
    } finally {
        state.busy = false;
    }
}

export function dirty() {
    if (!state.feature) return false;
    return state.geometryChanged || Object.keys(patchOf(state.fields, state.feature.properties, state.form)).length > 0;
}

// ---------------------------------------------------------------- adding

export function drawModeFor() {
    const spec = EDITABLE[state.collection];
    if (spec.draw === 'byClass') {
        const cls = state.classes.find(c => c.code === state.form[spec.classField]);
        return modeOfKind(cls?.geometry_kind);
    }
    return spec.draw;
}

export function startAdding() {
    const mode = drawModeFor();
    if (!mode) {
        state.message = '责任网格的范围由其单元网格组成，请在表单中填写单元网格编码';
    }
    const keep = state.adding ? {...state.form} : null;
    clearFeature();
    state.adding = true;
    state.feature = {id: null, etag: null, properties: {}, geometry: null};
    fillForm({});
    if (keep) Object.assign(state.form, keep);
    if (mode) {
        draw.setMode(mode);
        state.message = mode === 'point' ? '在地图上单击放置新要素' : '在地图上单击绘制，双击（或单击起点）结束';
    }
}

// a component's class decides what is drawn: switching to a class of another kind redraws
export function classChosen() {
    if (state.adding && !state.drawn) startAdding();
}

function onFinish(id) {
    if (!state.adding) return;
    for (const other of draw.getSnapshot()) if (other.id !== id) draw.removeFeatures([other.id]);
    drawnId = id;
    state.drawn = true;
    state.geometryChanged = true;
    draw.setMode('select');
    draw.selectFeature(id);
    state.message = '已绘制，可拖动调整；填写属性后保存';
}

// ---------------------------------------------------------------- writing

function currentGeometry() {
    if (!drawnId) return null;
    const f = draw.getSnapshotFeature(drawnId);
    return f ? savedGeometry(f.geometry, state.multi) : null;
}

function allProperties() {
    const out = {};
    for (const f of state.fields) {
        const v = fromForm(f, state.form[f.name]);
        if (v !== null && !(Array.isArray(v) && !v.length && f.kind === 'list' && !f.required)) out[f.name] = v;
    }
    return out;
}

function showError(error) {
    const errors = fieldErrors(error);
    state.errors = errors;
    const named = Object.keys(errors).find(k => k !== '_');
    state.message = named ? `未保存：${errors[named]}` : `未保存：${errors._ ?? error.message}`;
}

async function afterWrite(message) {
    refreshSources(map, [SOURCES[state.collection]].filter(Boolean));
    state.message = message;
}

// one write at a time: busy meanwhile; a stale ETag (412) shows the conflict, other refusals their field
async function writing(work) {
    if (!state.feature || state.busy) return null;
    state.busy = true;
    state.errors = {};
    try {
        return await work();
    } catch (error) {
        if (error instanceof ApiError && error.status === 412 && state.feature?.id) await showConflict();
        else showError(error);
        return null;
    } finally {
        state.busy = false;
    }
}

export function save() {
    return writing(async () => {
        const c = state.collection;
        if (state.adding) {
            const geometry = currentGeometry();
            if (!geometry && drawModeFor()) {
                state.errors = {geometry: '请先在地图上绘制'};
                state.message = '未保存：请先在地图上绘制';
                return null;
            }
            const answer = await request('POST', items(c), {body: {type: 'Feature', geometry, properties: allProperties()},
                contentType: 'application/geo+json', full: true});
            const id = answer.data?.id ?? decodeURIComponent((answer.headers.get('location') ?? '').split('?')[0].split('/').pop());
            await loadFeature(c, id);
            await afterWrite(`已新增：${state.feature.properties.name ?? id}`);
            return state.feature;
        }
        const body = {properties: patchOf(state.fields, state.feature.properties, state.form)};
        if (state.geometryChanged) body.geometry = currentGeometry();
        await request('PATCH', itemUrl(c, state.feature.id), {body, ifMatch: state.feature.etag,
            contentType: 'application/merge-patch+json'});
        await loadFeature(c, state.feature.id);
        await afterWrite(`已保存（版本 ${String(state.feature.etag).replaceAll('"', '')}）`);
        return state.feature;
    });
}

// the other editor's change: the fields that differ from what this editor loaded, before/after
async function showConflict() {
    const c = state.collection;
    const mine = patchOf(state.fields, state.feature.properties, state.form);
    try {
        const {data, etag} = await request('GET', `${itemUrl(c, state.feature.id)}?f=json`, {full: true});
        const diffs = differences(state.feature.properties, data.properties);
        const geometry = JSON.stringify(data.geometry) !== JSON.stringify(state.feature.geometry);
        let by = null, at = null;
        try {
            const h = await api.get(`${historyUrl(c, state.feature.id)}/history?limit=1`);
            by = h.changes?.[0]?.changed_by_name ?? null;
            at = h.changes?.[0]?.changed_at ?? null;
        } catch {
            // the change itself is what matters
        }
        state.conflict = {diffs, geometry, by, at, etag, mine, deleted: false};
    } catch (error) {
        state.conflict = {diffs: [], geometry: false, by: null, at: null, mine, deleted: error.status === 404};
    }
    state.message = '保存失败：该要素已被他人修改';
}

// reload the current version; `keepMine` puts this editor's typed values back on top
export async function reloadAfterConflict(keepMine) {
    const mine = keepMine ? state.conflict?.mine : null;
    const keep = mine ? Object.fromEntries(state.fields.filter(f => f.name in mine).map(f => [f.name, toForm(f, mine[f.name])])) : null;
    if (state.conflict?.deleted) {
        clearFeature();
        state.message = '该要素已被删除';
        return;
    }
    await loadFeature(state.collection, state.feature.id, {keep});
    state.message = keepMine ? '已载入最新版本并保留了您的输入，请核对后保存' : '已载入最新版本';
}

export function remove() {
    if (!state.feature?.id) return Promise.resolve(null);
    return writing(async () => {
        await request('DELETE', itemUrl(state.collection, state.feature.id), {ifMatch: state.feature.etag});
        const name = state.feature.properties.name ?? state.feature.id;
        clearFeature();
        await afterWrite(`已删除：${name}`);
        return true;
    });
}

export function cancel() {
    if (state.feature?.id) loadFeature(state.collection, state.feature.id);
    else clearFeature();
}

// ---------------------------------------------------------------- history

export async function loadHistory() {
    if (!state.feature?.id) return null;
    state.history = await api.get(`${historyUrl(state.collection, state.feature.id)}/history`);
    return state.history;
}

export function revert(change) {
    if (!state.feature?.id) return Promise.resolve(null);
    return writing(async () => {
        await request('POST', `${historyUrl(state.collection, state.feature.id)}/revert`,
            {body: {history_id: change.history_id}, ifMatch: state.feature.etag});
        await loadFeature(state.collection, state.feature.id);
        await loadHistory();
        await afterWrite('已撤销该次修改（作为一次新的修改记录）');
        return state.feature;
    });
}

export default {
    id: 'edit',
    title: '编辑',
    panel: () => import('./EditPanel.vue'),
    async activate(m, context) {
        map = m;
        ctx = context;
        state.collections = Object.keys(EDITABLE).filter(c => context.session.may(`features.write.${c}`))
            .map(c => ({id: c, title: context.labels.collectionTitle(c, EDITABLE[c].title)}));
        draw = await createDraw(map, ['point', 'linestring', 'polygon'], () => ({}), {snapping: SNAPPING});
        draw.on('finish', id => onFinish(id));
        draw.on('change', (ids, type) => {
            if (type !== 'update' || !drawnId || !ids.includes(drawnId) || state.adding) return;
            const now = draw.getSnapshotFeature(drawnId);       // selecting is an update too: compare shapes
            if (now) state.geometryChanged = JSON.stringify(now.geometry) !== loadedShape;
        });
        clickHandler = event => {
            if (!state.adding) pickAt(event.lngLat, event.point);
        };
        map.on('click', clickHandler);
        debugHandle().edit = {state, chooseCollection, loadFeature, pickAt, save, remove, loadHistory, revert,
            startAdding, reloadAfterConflict, dirty, snapToRendered, get drawnId() { return drawnId; }};
        if (state.collections.length) await chooseCollection(state.collections[0].id);
        state.message = '单击地图选择要素；或点“新增”绘制新要素';
    },
    deactivate() {
        if (map && clickHandler) map.off('click', clickHandler);
        stopDraw(map, draw);
        draw = null;
        drawnId = null;
        map = null;
        Object.assign(state, {feature: null, form: {}, errors: {}, conflict: null, history: null, adding: false,
            drawn: false, message: ''});
    },
};
