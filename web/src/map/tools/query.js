// 空间与属性查询 (GIS query): features of one collection inside a drawn polygon, rectangle or circle,
// or within N metres of a clicked point (a geodesic buffer), and/or matching the attribute builder's
// conditions — one CQL2 JSON filter (S_INTERSECTS …) on OGC API Features /items. Results in a table
// linked to the map both ways; export as CSV, GeoJSON or XLSX.
import {reactive, shallowRef} from 'vue';

import {api} from '../../api/client.js';
import {debugHandle} from '../map.js';
import {buffer, combine, condition, intersects, toText} from './analysis/cql.js';
import {flyToGeometry} from './analysis/overlay.js';
import {clickLayers, resultOverlay} from './analysis/resultLayers.js';

export const LIMIT = 5000;
const OVERLAY = 'query-results';

export const queryState = reactive({
    collection: 'urban-components', area: null, areaKind: null, centre: null, conditions: [], join: 'and', classes: [],
    busy: false, error: '', features: [], count: null, matched: null, more: false, cql: '', selected: null, queryables: {},
});
const runtime = {map: null, drawer: null, overlay: null, labels: null};
export const queryablesCache = shallowRef({});

export async function loadQueryables(collection) {
    if (!queryablesCache.value[collection]) {
        const doc = await api.get(`/ogc/collections/${collection}/queryables?f=json`);
        queryablesCache.value = {...queryablesCache.value, [collection]: doc.properties ?? {}};
    }
    return queryablesCache.value[collection];
}

export async function drawArea(kind, radius) {
    const drawer = runtime.drawer;
    if (!drawer) return null;
    queryState.areaKind = kind;
    const geometry = await drawer.shape(kind === 'buffer' ? 'point' : kind);
    if (kind === 'buffer') {
        queryState.centre = geometry.coordinates;
        queryState.area = buffer(geometry.coordinates, radius);
        // the buffer replaces the clicked point on the map
        runtime.drawer.clear();
        runtime.overlay?.map?.getSource('query-area')?.setData(queryState.area);
    } else {
        queryState.area = geometry;
        runtime.overlay?.map?.getSource('query-area')?.setData({type: 'FeatureCollection', features: []});
    }
    return queryState.area;
}

export function viewArea() {
    const b = runtime.map.getBounds();
    queryState.areaKind = 'view';
    queryState.area = {type: 'Polygon', coordinates: [[[b.getWest(), b.getSouth()], [b.getEast(), b.getSouth()],
        [b.getEast(), b.getNorth()], [b.getWest(), b.getNorth()], [b.getWest(), b.getSouth()]]]};
    runtime.drawer?.clear();
    runtime.map.getSource('query-area')?.setData(queryState.area);
}

export function clearArea() {
    queryState.area = null;
    queryState.areaKind = null;
    runtime.drawer?.clear();
    runtime.map?.getSource('query-area')?.setData({type: 'FeatureCollection', features: []});
}

export function buildFilter() {
    const parts = queryState.conditions.filter(c => c.property && c.op).map(condition);
    const attributes = combine(parts, queryState.join);
    const classes = queryState.collection === 'urban-components' && queryState.classes.length
        ? {op: 'in', args: [{property: 'type_code'}, [...queryState.classes]]} : null;
    return combine([queryState.area ? intersects(queryState.area) : null, classes, attributes], 'and');
}

export async function runQuery() {
    queryState.error = '';
    let filter;
    try {
        filter = buildFilter();
    } catch (error) {
        queryState.error = error.message;
        return null;
    }
    queryState.busy = true;
    queryState.cql = toText(filter);
    try {
        const params = new URLSearchParams({f: 'json', limit: String(LIMIT)});
        if (filter) {
            params.set('filter-lang', 'cql2-json');
            params.set('filter', JSON.stringify(filter));
        }
        const doc = await api.get(`/ogc/collections/${queryState.collection}/items?${params}`);
        const features = (doc.features ?? []).map((f, i) => ({...f, _rid: i, properties: {...f.properties, _rid: i}}));
        queryState.features = features;
        queryState.matched = doc.numberMatched ?? null;
        queryState.count = doc.numberMatched ?? features.length;
        queryState.more = features.length >= LIMIT;
        queryState.selected = null;
        runtime.overlay?.setData({type: 'FeatureCollection', features});
        return queryState.count;
    } catch (error) {
        queryState.error = error.field === 'filter' ? `查询条件有误：${error.message}` : error.message;
        return null;
    } finally {
        queryState.busy = false;
    }
}

export function hoverRow(id) {
    runtime.overlay?.mark('hover', id);
}

export function selectRow(id, fly = true) {
    queryState.selected = id;
    runtime.overlay?.mark('selected', id);
    const feature = queryState.features.find(f => f._rid === id);
    if (fly && feature?.geometry && runtime.map) flyToGeometry(runtime.map, feature.geometry);
}

export default {
    id: 'query',
    title: '查询',
    icon: 'search',
    panel: () => import('./QueryPanel.vue'),
    async activate(map, ctx) {
        runtime.map = map;
        runtime.labels = ctx.labels;
        map.__civicgridToolActive = true;
        if (!map.getSource('query-area')) {
            map.addSource('query-area', {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
            map.addLayer({id: 'query-area-fill', type: 'fill', source: 'query-area', paint: {'fill-color': '#1f77b4', 'fill-opacity': 0.1}});
            map.addLayer({id: 'query-area-line', type: 'line', source: 'query-area', paint: {'line-color': '#1f4e79', 'line-width': 2, 'line-dasharray': [2, 1]}});
        }
        if (queryState.area) map.getSource('query-area').setData(queryState.area);
        runtime.overlay = resultOverlay(OVERLAY).add(map, {type: 'FeatureCollection', features: queryState.features});
        runtime.overlay.onClick(clickLayers(OVERLAY), feature => selectRow(feature.properties._rid, false));
        const {AreaDrawer} = await import('./analysis/draw.js');    // terra-draw only when a query starts
        runtime.drawer = new AreaDrawer(map);
        Object.assign(debugHandle(), {query: {state: queryState, run: runQuery, buildFilter}});
    },
    async deactivate() {
        const map = runtime.map;
        runtime.drawer?.stop();
        runtime.drawer = null;
        runtime.overlay?.remove();
        runtime.overlay = null;
        if (map) {
            for (const id of ['query-area-line', 'query-area-fill']) if (map.getLayer(id)) map.removeLayer(id);
            if (map.getSource('query-area')) map.removeSource('query-area');
            map.__civicgridToolActive = false;
        }
        runtime.map = null;
    },
};
