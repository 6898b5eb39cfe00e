// 识别 (identify): one click lists what is there in every visible layer — the drawn points and lines
// under the cursor (their tile properties), and the areas (communities, unit and responsibility
// grids, the town) that contain the point, asked from OGC API Features with S_INTERSECTS. Field
// names and values in Chinese through the labels store.
import {Marker} from 'maplibre-gl';
import {reactive} from 'vue';

import {api} from '../../api/client.js';
import {debugHandle} from '../map.js';
import {useMapLayers} from '../store.js';
import {intersects} from './analysis/cql.js';

const AREAS = new Set(['communities', 'unit-grids', 'responsibility-grids', 'town-boundary']);
const HIDDEN = new Set(['geom', 'geometry', 'label', '_rid']);

export const identifyState = reactive({point: null, results: [], busy: false});
const runtime = {map: null, labels: null, marker: null, click: null, serial: 0};

function rows(collection, properties) {
    const labels = runtime.labels;
    return Object.entries(properties ?? {})
        .filter(([k, v]) => !HIDDEN.has(k) && v !== null && v !== '' && typeof v !== 'object')
        .map(([k, v]) => ({name: labels.fieldName(collection, k), value: labels.value(collection, k, v)}));
}

function visibleGroups() {
    const store = useMapLayers();
    return store.groups.filter(g => g.visible).map(g => store.module(g.id)).filter(Boolean);
}

export async function identifyAt(lngLat, point) {
    const map = runtime.map;
    const serial = ++runtime.serial;
    identifyState.point = [lngLat.lng, lngLat.lat];
    identifyState.busy = true;
    runtime.marker ??= new Marker({color: '#ff7f0e', scale: 0.7});
    runtime.marker.setLngLat(lngLat).addTo(map);
    const groups = visibleGroups();
    const found = [];
    const pad = 5;
    const box = [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]];
    for (const group of groups) {
        if (AREAS.has(group.collection)) continue;
        const layers = (group.clickable ?? []).filter(id => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
        if (!layers.length) continue;
        const seen = new Set();
        for (const feature of map.queryRenderedFeatures(box, {layers})) {
            const key = feature.id ?? JSON.stringify(feature.properties);
            if (seen.has(key)) continue;
            seen.add(key);
            const title = runtime.labels.collectionTitle(group.collection, group.title);
            found.push({key: `${group.id}:${key}`, group: title,
                title: feature.properties.count ? `${title}（聚合 ${feature.properties.count} 个，放大查看）` : title,
                rows: rows(group.collection, feature.properties)});
        }
    }
    const point4490 = {type: 'Point', coordinates: identifyState.point};
    const areaGroups = groups.filter(g => AREAS.has(g.collection));
    const answers = await Promise.all(areaGroups.map(g => api.get(`/ogc/collections/${g.collection}/items?${new URLSearchParams({
        f: 'json', limit: '5', 'filter-lang': 'cql2-json', filter: JSON.stringify(intersects(point4490)), skipGeometry: 'true'})}`)
        .then(doc => ({group: g, doc})).catch(() => ({group: g, doc: null}))));
    for (const {group, doc} of answers) {
        for (const f of doc?.features ?? []) {
            const title = runtime.labels.collectionTitle(group.collection, group.title);
            found.push({key: `${group.id}:${f.id}`, group: title, title,
                rows: [{name: '编码', value: String(f.id)}, ...rows(group.collection, f.properties)]});
        }
    }
    if (serial !== runtime.serial) return identifyState.results;
    identifyState.results = found;
    identifyState.busy = false;
    return found;
}

export default {
    id: 'identify',
    title: '识别',
    icon: 'info',
    panel: () => import('./IdentifyPanel.vue'),
    activate(map, ctx) {
        runtime.map = map;
        runtime.labels = ctx.labels;
        map.__civicgridToolActive = true;
        map.getCanvas().style.cursor = 'help';
        runtime.click = event => identifyAt(event.lngLat, event.point);
        map.on('click', runtime.click);
        Object.assign(debugHandle(), {identify: {state: identifyState, at: identifyAt}});
    },
    deactivate() {
        const map = runtime.map;
        if (map) {
            map.off('click', runtime.click);
            map.__civicgridToolActive = false;
            map.getCanvas().style.cursor = '';
        }
        runtime.marker?.remove();
        runtime.marker = null;
        identifyState.results = [];
        identifyState.point = null;
        runtime.map = null;
    },
};
