// 导出 (export): the features of one layer the caller can read, in the current view or all of
// them, as CSV, GeoJSON or XLSX — fetched from OGC API Features (bbox), columns named in Chinese.
import {reactive} from 'vue';

import {api} from '../../api/client.js';
import {exportFeatures} from './analysis/exporters.js';
import {loadQueryables} from './query.js';

export const EXPORT_LIMIT = 10000;
export const exportState = reactive({collection: 'urban-components', extent: 'view', busy: false, error: '', last: null});
const runtime = {map: null, labels: null};

export async function exportLayer(format) {
    const {collection, extent} = exportState;
    exportState.error = '';
    exportState.busy = true;
    try {
        const params = new URLSearchParams({f: 'json', limit: String(EXPORT_LIMIT)});
        if (extent === 'view') {
            const b = runtime.map.getBounds();
            params.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(v => v.toFixed(6)).join(','));
        }
        const [doc, queryables] = await Promise.all([api.get(`/ogc/collections/${collection}/items?${params}`),
            loadQueryables(collection).catch(() => ({}))]);
        const labels = runtime.labels;
        const names = Object.keys(queryables).filter(k => k !== 'geometry');
        const keys = names.length ? names : Object.keys(doc.features?.[0]?.properties ?? {});
        const columns = [{key: '__id', title: '标识'}, ...keys.map(k => ({key: k, title: labels.fieldName(collection, k, {[k]: queryables[k]?.title})}))];
        const cell = (f, key) => (key === '__id' ? f.id : labels.value(collection, key, f.properties?.[key]));
        await exportFeatures(format, doc.features ?? [], columns, cell, labels.collectionTitle(collection));
        exportState.last = {format, rows: doc.features?.length ?? 0, more: (doc.features?.length ?? 0) >= EXPORT_LIMIT};
        return exportState.last;
    } catch (error) {
        exportState.error = error.message;
        return null;
    } finally {
        exportState.busy = false;
    }
}

export default {
    id: 'export',
    title: '导出',
    icon: 'download',
    panel: () => import('./ExportPanel.vue'),
    activate(map, ctx) {
        runtime.map = map;
        runtime.labels = ctx.labels;
    },
    deactivate() {
        runtime.map = null;
    },
};
