// 普查工作台 (the GIS staff's survey workspace): the calls of /api/survey and the map of the page.
// The page's map is the app's one MapLibre instance (map.js) with the live layers it needs beside
// the batch's staged rows, the coverage choropleth and the latest batch's changes.
import {api, ApiError} from '../../api/client.js';
import {tileOptions} from '../../map/layers/common.js';
import {createMap, debugHandle} from '../../map/map.js';
import {refreshSources} from '../../map/refresh.js';
import {layerGroups} from '../../map/registry.js';
import {buildStyle, setBasemap} from '../../map/style.js';

export const CRS_CHOICES = [
    {value: '', label: '自动识别（文件声明或坐标量级）'},
    {value: 'EPSG:4490', label: 'EPSG:4490 CGCS2000 经纬度'},
    {value: 'EPSG:4326', label: 'EPSG:4326 WGS 84 经纬度'},
    {value: 'EPSG:4548', label: 'EPSG:4548 CGCS2000 3度带 中央经线117°E（无带号）'},
    {value: 'EPSG:4527', label: 'EPSG:4527 CGCS2000 3度带 第39带（带号）'},
];
export const STANDARDS = [
    {value: 'gbt47678', label: 'GB/T 47678.5-2026'},
    {value: 'cjt214', label: 'CJ/T 214-2007'},
];
// the standard's attributes (abbreviation → name) plus LXDM, the class column of a survey file
export const ATTRIBUTES = {
    GLBJBSM: '标识码', LXDM: '类别代码', GLBJMC: '部件名称', ZGBMDM: '主管部门代码', ZGBMMC: '主管部门名称',
    QSDWDM: '权属单位代码', QSDWMC: '权属单位名称', YHDWDM: '养护单位代码', YHDWMC: '养护单位名称',
    SZDYWGBSM: '所在单元网格', GLBJZT: '部件状态', CSRQ: '初始日期', BGRQ: '变更日期', SJLY: '数据来源', BZ: '备注',
    SZJDDM: '所在街道代码', SZJDMC: '所在街道名称', SZSQDM: '所在社区代码', SZSQMC: '所在社区名称',
};
export const STATUSES = ['完好', '破损', '丢失', '占用', '废弃', '移除'];
export const SOURCES = ['实测', '地形图', '基础地理数据', '调绘', '其他'];
export const STATE_STYLE = {
    error: {color: '#d73027', name: '有错误'},
    insert: {color: '#1a9850', name: '将新增'},
    moved: {color: '#f46d43', name: '将移动（>0.5米）'},
    changed: {color: '#8e44ad', name: '属性将变更'},
    unchanged: {color: '#4575b4', name: '未变'},
};
export const CHANGE_STYLE = {
    new: {color: '#1a9850', name: '新增'}, moved: {color: '#f46d43', name: '移动'}, changed: {color: '#8e44ad', name: '变更'},
};
export const BATCH_STATUS = {staged: '已暂存', published: '已发布', partially_published: '部分发布', rolled_back: '已回滚'};
export const SEVERITY = {error: '错误', warning: '警告', info: '提示'};
export const COVERAGE_STEPS = [[1, '#fee8c8'], [5, '#fdbb84'], [20, '#fc8d59'], [50, '#e34a33'], [100, '#b30000']];

const enc = encodeURIComponent;
const B = name => `/api/survey/batches/${enc(name)}`;

export const listBatches = () => api.get('/api/survey/batches');
export const getBatch = name => api.get(B(name));
export const batchRows = (name, {problems = false, check = ''} = {}) =>
    api.get(`${B(name)}/rows?problems=${problems}${check ? `&check=${enc(check)}` : ''}`);
export const getRow = (name, row) => api.get(`${B(name)}/rows/${row}`);
export const correctRow = (name, row, body) => api.patch(`${B(name)}/rows/${row}`, body);
export const recheck = name => api.post(`${B(name)}/check`);
export const corrections = name => api.get(`${B(name)}/corrections`);
export const publish = (name, validOnly) => api.post(`${B(name)}/publish`, {valid_only: validOnly});
export const rollback = name => api.post(`${B(name)}/rollback`);
export const reportLinks = name => ({xlsx: `${B(name)}/report.xlsx`, html: `${B(name)}/report.html`});
export const coverage = (typeCode = '') => api.get(`/api/survey/coverage/grids${typeCode ? `?class=${enc(typeCode)}` : ''}`);
export const changes = (batch = '') => api.get(`/api/survey/changes${batch ? `?batch=${enc(batch)}` : ''}`);

// The upload: multipart with the session's CSRF token, progress from XMLHttpRequest (fetch has none)
export async function upload(file, options, onProgress) {
    const me = await api.get('/api/auth/me');
    const form = new FormData();
    form.append('file', file, file.name);
    for (const [key, value] of Object.entries(options)) if (value !== '' && value !== null && value !== undefined) form.append(key, value);
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', '/api/survey/uploads');
        if (me.csrf_token) xhr.setRequestHeader('X-CSRF-Token', me.csrf_token);
        xhr.upload.onprogress = e => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
        xhr.onload = () => {
            let body = null;
            try {
                body = JSON.parse(xhr.responseText);
            } catch {
                body = {description: xhr.responseText};
            }
            if (xhr.status >= 200 && xhr.status < 300) resolve(body);
            else reject(new ApiError(xhr.status, body, '/api/survey/uploads'));
        };
        xhr.onerror = () => reject(new ApiError(0, {description: '网络错误：上传未完成'}, '/api/survey/uploads'));
        xhr.send(form);
    });
}

export async function waitForJob(href, onStatus, signal) {
    for (let wait = 150; ; wait = Math.min(wait * 1.5, 1500)) {
        const job = await api.get(href, {signal});
        onStatus(job);
        if (job.status === 'done' || job.status === 'failed') return job;
        await new Promise(r => setTimeout(r, wait));
    }
}

// the pick-list of a check filter: the batch's non-info checks
export const problemChecks = summary => (summary?.checks ?? []).filter(c => c.severity !== 'info');

// YAML of a column mapping (attribute: file column) as survey/mapping.py reads it
export function mappingYaml(columns) {
    const lines = Object.entries(columns).filter(([, abbr]) => abbr).map(([col, abbr]) => `  ${abbr}: ${JSON.stringify(col)}`);
    return lines.length ? `columns:\n${lines.join('\n')}\n` : '';
}

// ---------------------------------------------------------------- the map

const EMPTY = {type: 'FeatureCollection', features: []};
const stateColour = ['match', ['get', 'state'], ...Object.entries(STATE_STYLE).flatMap(([k, v]) => [k, v.color]), '#777777'];
const changeColour = ['match', ['get', 'change'], ...Object.entries(CHANGE_STYLE).flatMap(([k, v]) => [k, v.color]), '#777777'];
const coverageColour = ['step', ['get', 'components'], '#9e9e9e', ...COVERAGE_STEPS.flat()];
export const ROW_LAYERS = ['survey-rows-point', 'survey-rows-line', 'survey-rows-fill'];
const LAYERS = {
    rows: ['survey-rows-fill', 'survey-rows-line', 'survey-rows-point', 'survey-rows-selected', 'survey-rows-label'],
    coverage: ['survey-coverage-fill', 'survey-coverage-line', 'survey-changes-point'],
};

export async function createSurveyMap(container) {
    const boot = await api.get('/ogc/tiles/WebMercatorQuad').catch(() => null);
    if (boot?.bounds) tileOptions.bounds = boot.bounds;
    const groups = layerGroups.filter(g => g.basemap || ['town-boundary', 'unit-grids', 'urban-components'].includes(g.collection));
    const b = tileOptions.bounds;
    const map = createMap(container, {style: buildStyle(groups), bounds: b ? [[b[0], b[1]], [b[2], b[3]]] : undefined});
    await new Promise(resolve => map.once('load', resolve));
    setBasemap(map, 'vector', groups);
    map.addSource('survey-rows', {type: 'geojson', data: EMPTY});
    map.addSource('survey-coverage', {type: 'geojson', data: EMPTY});
    map.addSource('survey-changes', {type: 'geojson', data: EMPTY});
    map.addLayer({id: 'survey-coverage-fill', type: 'fill', source: 'survey-coverage',
        paint: {'fill-color': coverageColour, 'fill-opacity': ['case', ['get', 'surveyed'], 0.65, 0.45]}});
    map.addLayer({id: 'survey-coverage-line', type: 'line', source: 'survey-coverage',
        paint: {'line-color': ['case', ['get', 'surveyed'], '#8c2d04', '#424242'], 'line-width': ['case', ['get', 'surveyed'], 0.6, 1.4],
            'line-dasharray': [2, 1]}});
    map.addLayer({id: 'survey-changes-point', type: 'circle', source: 'survey-changes', filter: ['==', ['geometry-type'], 'Point'],
        paint: {'circle-color': changeColour, 'circle-radius': 5, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.2}});
    map.addLayer({id: 'survey-rows-fill', type: 'fill', source: 'survey-rows', filter: ['==', ['geometry-type'], 'Polygon'],
        paint: {'fill-color': stateColour, 'fill-opacity': 0.35}});
    map.addLayer({id: 'survey-rows-line', type: 'line', source: 'survey-rows', filter: ['!=', ['geometry-type'], 'Point'],
        paint: {'line-color': stateColour, 'line-width': 3}});
    map.addLayer({id: 'survey-rows-point', type: 'circle', source: 'survey-rows', filter: ['==', ['geometry-type'], 'Point'],
        paint: {'circle-color': stateColour, 'circle-radius': ['case', ['==', ['get', 'state'], 'error'], 7, 5],
            'circle-stroke-color': ['case', ['==', ['get', 'state'], 'error'], '#ffffff', '#222222'],
            'circle-stroke-width': ['case', ['==', ['get', 'state'], 'error'], 2, 0.8]}});
    map.addLayer({id: 'survey-rows-label', type: 'symbol', source: 'survey-rows', filter: ['==', ['get', 'state'], 'error'],
        layout: {'text-field': ['concat', '第', ['to-string', ['get', 'row_no']], '行'], 'text-font': ['WenQuanYi Micro Hei'],
            'text-size': 11, 'text-offset': [0, 1.2], 'text-anchor': 'top'},
        paint: {'text-color': '#b2182b', 'text-halo-color': '#fff', 'text-halo-width': 1.4}});
    map.addLayer({id: 'survey-rows-selected', type: 'circle', source: 'survey-rows', filter: ['==', ['id'], -1],
        paint: {'circle-radius': 12, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ffd400', 'circle-stroke-width': 3}});
    debugHandle().survey = {map};
    return map;
}

export function setData(map, source, data) {
    map?.getSource(source)?.setData(data ?? EMPTY);
}

export function showLayers(map, which) {
    for (const [group, ids] of Object.entries(LAYERS)) {
        for (const id of ids) if (map?.getLayer(id)) map.setLayoutProperty(id, 'visibility', group === which ? 'visible' : 'none');
    }
}

export function selectRow(map, rowNo) {
    if (map?.getLayer('survey-rows-selected')) map.setFilter('survey-rows-selected', ['==', ['id'], rowNo ?? -1]);
}

// the live layer after a publish or rollback: new tile URLs, past the browser's 60 s tile cache
export function refreshLive(map) {
    refreshSources(map, ['urban-components']);
}

export function boundsOf(features) {
    let w = 180, s = 90, e = -180, n = -90;
    const visit = c => {
        if (typeof c[0] === 'number') {
            w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
        } else c.forEach(visit);
    };
    for (const f of features) if (f.geometry) visit(f.geometry.coordinates);
    return w <= e ? [[w, s], [e, n]] : null;
}
