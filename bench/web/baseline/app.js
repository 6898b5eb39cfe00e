// 一张图: the town's web map. MapLibre GL JS and pmtiles come from static/vendor (npm, pinned).
// Everything it draws comes from this server: the basemap and the layers as vector tiles from
// /ogc, the imagery as a PMTiles archive read with range requests. Labels are drawn from local
// fonts (no glyphs URL), so nothing is fetched from the internet.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const OGC = `${location.origin}/ogc`;
const FONT = ['WenQuanYi Micro Hei'];
const OFFICERS = 'officer-latest';          // GeoJSON, refreshed: only for leaders and the command center
const OFFICER_REFRESH_MS = 30_000;
const OFFICER_FIELDS = {officer_code: '编号', officer_name: '姓名', recorded_at: '定位时间', accuracy_m: '精度（米）',
    speed_mps: '速度（米/秒）', active: '在岗'};
const LOCAL_FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

// Component major classes (大类) of GB/T 47678.5-2026 and their colours.
const MAJOR_COLOURS = ['match', ['get', 'major'],
    '01', '#1f77b4', '02', '#ff7f0e', '03', '#9467bd', '04', '#2ca02c', '#7f7f7f'];
const SLA_COLOURS = ['match', ['coalesce', ['get', 'sla_color'], ''],
    'red', '#d62728', 'yellow', '#f2b01e', 'green', '#2ca02c', '#5b6b7d'];

// What the layer switcher (图层) offers: a title and the style layers it turns on and off.
const GROUPS = [
    {id: 'communities', title: '社区/村界', colour: '#8c510a', layers: ['community-line', 'community-label'], on: true},
    {id: 'unit-grids', title: '单元网格', colour: '#6a51a3', layers: ['unit-grids-fill', 'unit-grids-line'], on: true},
    {id: 'urban-components', title: '城市部件', colour: '#1f77b4',
        layers: ['components-cluster', 'components-cluster-count', 'components-point'], on: true},
    {id: 'cases', title: '案件', colour: '#d62728', layers: ['cases-cluster', 'cases-cluster-count', 'cases-closed', 'cases-point'], on: true},
    {id: OFFICERS, title: '网格员位置', colour: '#0a7d3b', layers: ['officers-point', 'officers-label'], on: true},
    {id: 'pois', title: '兴趣点', colour: '#e7298a', layers: ['pois-cluster', 'pois-point', 'pois-label'], on: false},
];
const VECTOR_BASE = ['landuse', 'road-casing', 'road', 'road-label'];
const IMAGERY_BASE = ['imagery'];

// Titles of clicked features, per source layer.
const FEATURE_TITLES = {
    'urban-components': p => p.count ? `城市部件聚合：${p.count} 个` : `城市部件 · ${p.name ?? ''}`,
    'cases': p => p.count ? `未结案件：${p.open_count} 件（共 ${p.count} 件）` : `案件 ${p.case_number ?? ''}`,
    'unit-grids': p => `单元网格 · ${p.name ?? p.code}`,
    'pois': p => p.count ? `兴趣点聚合：${p.count} 个` : `兴趣点 · ${p.name ?? ''}`,
    'community': p => `${p.kind ?? '社区'} · ${p.name}`,
    [OFFICERS]: p => `网格员 · ${p.officer_name ?? p.officer_code}`,
};

const status = document.getElementById('status');
const fieldNames = {};          // source layer → {property: Chinese description} from the TileJSON
const COLLECTION_SOURCES = new Set(['urban-components', 'cases', 'unit-grids', 'pois']);   // MVT from /ogc
const ROLE_NAMES = {admin: '管理员', intake_operator: '受理员', shift_leader: '值班长', dispatcher: '派遣员',
    leader: '领导', department_handler: '专业部门', grid_officer: '网格员', gis_editor: 'GIS编辑',
    evaluator: '考核员', district_platform: '区平台'};

// Who is logged in (session cookie, HttpOnly) and which collections the server lets us read: the
// map only asks for what it may show, so an anonymous visitor's page makes no refused requests.
const session = await fetch('/api/auth/me').then(r => r.json()).catch(() => ({user: null}));
const readable = await fetch(`${OGC}/collections?f=json`).then(r => r.ok ? r.json() : {collections: []})
    .then(doc => new Set(doc.collections.map(c => c.id))).catch(() => new Set());
const GATED = new Set([...COLLECTION_SOURCES, OFFICERS]);   // shown only when /ogc/collections lists them
const mayShow = id => !GATED.has(id) || readable.has(id);

function collectionSource(id) {
    return {type: 'vector', url: `${OGC}/collections/${id}/tiles/WebMercatorQuad`};
}

function style() {
    const full = fullStyle();
    full.sources = Object.fromEntries(Object.entries(full.sources).filter(([id]) => mayShow(id)));
    full.layers = full.layers.filter(layer => !layer.source || mayShow(layer.source));
    return full;
}

function fullStyle() {
    const clusterRadius = ['interpolate', ['linear'], ['get', 'count'], 1, 4, 50, 9, 500, 15, 3000, 20];
    return {
        version: 8,
        name: 'civicgrid',
        sources: {
            basemap: {type: 'vector', url: `${OGC}/tiles/WebMercatorQuad`},
            imagery: {type: 'raster', url: `pmtiles://${location.origin}/basemap/imagery.pmtiles`, tileSize: 256},
            'urban-components': collectionSource('urban-components'),
            cases: collectionSource('cases'),
            'unit-grids': collectionSource('unit-grids'),
            pois: collectionSource('pois'),
            [OFFICERS]: {type: 'geojson', data: {type: 'FeatureCollection', features: []}},
        },
        layers: [
            {id: 'background', type: 'background', paint: {'background-color': '#eef0e6'}},
            {id: 'landuse', type: 'fill', source: 'basemap', 'source-layer': 'landuse', paint: {
                'fill-color': ['match', ['get', 'kind'],
                    'water', '#aad3df', 'farmland', '#e6ecd2', 'green', '#c8e3b5', 'industrial', '#e3dde8',
                    'commercial', '#f3e0dc', 'urban', '#ece7e1', 'residential', '#f1ebe0', 'transport', '#eeeeee',
                    '#eef0e6'],
            }},
            {id: 'imagery', type: 'raster', source: 'imagery', layout: {visibility: 'none'}},
            {id: 'road-casing', type: 'line', source: 'basemap', 'source-layer': 'road',
                layout: {'line-cap': 'round', 'line-join': 'round'}, paint: {
                    'line-color': '#c9c2b6',
                    'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 11,
                        ['match', ['get', 'kind'], 'arterial', 2.5, 'street', 1.2, 0.5], 17,
                        ['match', ['get', 'kind'], 'arterial', 22, 'street', 13, 6]],
                }},
            {id: 'road', type: 'line', source: 'basemap', 'source-layer': 'road',
                layout: {'line-cap': 'round', 'line-join': 'round'}, paint: {
                    'line-color': ['match', ['get', 'kind'], 'arterial', '#fcd990', '#ffffff'],
                    'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 11,
                        ['match', ['get', 'kind'], 'arterial', 1.6, 'street', 0.7, 0.3], 17,
                        ['match', ['get', 'kind'], 'arterial', 19, 'street', 11, 4.5]],
                }},
            {id: 'unit-grids-fill', type: 'fill', source: 'unit-grids', 'source-layer': 'unit-grids', minzoom: 13,
                paint: {'fill-color': '#6a51a3', 'fill-opacity': 0.02}},
            {id: 'unit-grids-line', type: 'line', source: 'unit-grids', 'source-layer': 'unit-grids', minzoom: 12,
                paint: {'line-color': '#6a51a3', 'line-opacity': 0.45,
                    'line-width': ['interpolate', ['linear'], ['zoom'], 12, 0.3, 16, 1.2]}},
            {id: 'community-line', type: 'line', source: 'basemap', 'source-layer': 'community',
                filter: ['==', ['get', 'label'], 0],
                paint: {'line-color': '#8c510a', 'line-width': 1.4, 'line-dasharray': [4, 2], 'line-opacity': 0.8}},
            {id: 'town-line', type: 'line', source: 'basemap', 'source-layer': 'town',
                paint: {'line-color': '#b2182b', 'line-width': 2.4, 'line-opacity': 0.85}},
            {id: 'road-label', type: 'symbol', source: 'basemap', 'source-layer': 'road', minzoom: 14,
                layout: {'symbol-placement': 'line', 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 12},
                paint: {'text-color': '#5a4f3f', 'text-halo-color': '#fff', 'text-halo-width': 1.5}},
            {id: 'components-cluster', type: 'circle', source: 'urban-components', 'source-layer': 'urban-components',
                filter: ['has', 'count'], paint: {
                    'circle-color': MAJOR_COLOURS, 'circle-opacity': 0.75, 'circle-radius': clusterRadius,
                    'circle-stroke-color': '#fff', 'circle-stroke-width': 1}},
            {id: 'components-cluster-count', type: 'symbol', source: 'urban-components', 'source-layer': 'urban-components',
                filter: ['all', ['has', 'count'], ['>=', ['get', 'count'], 10]],
                layout: {'text-field': ['to-string', ['get', 'count']], 'text-font': FONT, 'text-size': 10,
                    'text-allow-overlap': true},
                paint: {'text-color': '#fff'}},
            {id: 'components-point', type: 'circle', source: 'urban-components', 'source-layer': 'urban-components',
                filter: ['!', ['has', 'count']], paint: {
                    'circle-color': MAJOR_COLOURS,
                    'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 2.2, 18, 6],
                    'circle-stroke-color': ['match', ['get', 'status'], '完好', '#ffffff', '#d62728'],
                    'circle-stroke-width': ['match', ['get', 'status'], '完好', 0.6, 1.6]}},
            {id: 'pois-cluster', type: 'circle', source: 'pois', 'source-layer': 'pois', filter: ['has', 'count'],
                paint: {'circle-color': '#e7298a', 'circle-opacity': 0.6, 'circle-radius': clusterRadius}},
            {id: 'pois-point', type: 'circle', source: 'pois', 'source-layer': 'pois', filter: ['!', ['has', 'count']],
                paint: {'circle-color': '#e7298a', 'circle-radius': 4, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1}},
            {id: 'pois-label', type: 'symbol', source: 'pois', 'source-layer': 'pois', filter: ['!', ['has', 'count']],
                layout: {'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 11, 'text-offset': [0, 1.1],
                    'text-anchor': 'top', 'text-optional': true},
                paint: {'text-color': '#7a1f4f', 'text-halo-color': '#fff', 'text-halo-width': 1.2}},
            // the command centre watches open cases: clusters count them; closed ones appear from zoom 16
            {id: 'cases-cluster', type: 'circle', source: 'cases', 'source-layer': 'cases',
                filter: ['all', ['has', 'count'], ['>', ['get', 'open_count'], 0]],
                paint: {'circle-color': SLA_COLOURS, 'circle-opacity': 0.85,
                    'circle-radius': ['interpolate', ['linear'], ['get', 'open_count'], 1, 7, 20, 11, 200, 18],
                    'circle-stroke-color': '#fff', 'circle-stroke-width': 1.2}},
            {id: 'cases-cluster-count', type: 'symbol', source: 'cases', 'source-layer': 'cases',
                filter: ['all', ['has', 'count'], ['>', ['get', 'open_count'], 0]],
                layout: {'text-field': ['to-string', ['get', 'open_count']], 'text-font': FONT, 'text-size': 10,
                    'text-allow-overlap': true},
                paint: {'text-color': '#fff'}},
            {id: 'cases-closed', type: 'circle', source: 'cases', 'source-layer': 'cases', minzoom: 16,
                filter: ['all', ['!', ['has', 'count']], ['==', ['get', 'is_closed'], true]],
                paint: {'circle-color': '#5b6b7d', 'circle-opacity': 0.45, 'circle-radius': 4,
                    'circle-stroke-color': '#fff', 'circle-stroke-width': 1}},
            {id: 'cases-point', type: 'circle', source: 'cases', 'source-layer': 'cases',
                filter: ['all', ['!', ['has', 'count']], ['!=', ['get', 'is_closed'], true]],
                paint: {'circle-color': SLA_COLOURS, 'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 4, 18, 8],
                    'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5}},
            {id: 'officers-point', type: 'circle', source: OFFICERS, paint: {
                'circle-radius': 6, 'circle-color': ['case', ['get', 'active'], '#0a7d3b', '#8a8a8a'],
                'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2}},
            {id: 'officers-label', type: 'symbol', source: OFFICERS, minzoom: 13, layout: {
                'text-field': ['get', 'officer_name'], 'text-font': FONT, 'text-size': 12, 'text-offset': [0, 1.2],
                'text-anchor': 'top'}, paint: {'text-color': '#0a4d25', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5}},
            {id: 'community-label', type: 'symbol', source: 'basemap', 'source-layer': 'community',
                filter: ['==', ['get', 'label'], 1],
                layout: {'text-field': ['get', 'name'], 'text-font': FONT,
                    'text-size': ['interpolate', ['linear'], ['zoom'], 11, 11, 16, 16]},
                paint: {'text-color': '#4a2a05', 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.8}},
        ],
    };
}

const protocol = new pmtiles.Protocol();
maplibregl.addProtocol('pmtiles', protocol.tile);

const map = new maplibregl.Map({
    container: 'map',
    style: style(),
    center: [116.65, 40.13],
    zoom: 12,
    maxZoom: 19,
    localIdeographFontFamily: LOCAL_FONTS,
    attributionControl: {compact: true, customAttribution: '仁和镇综合执法指挥中心 · 底图与影像由本系统数据生成'},
    hash: false,
});
window.map = map;
map.addControl(new maplibregl.NavigationControl({visualizePitch: false}), 'top-right');
map.addControl(new maplibregl.ScaleControl({unit: 'metric'}), 'bottom-left');

let townBounds = null;

async function loadTownBounds() {
    const response = await fetch(`${OGC}/tiles/WebMercatorQuad`);
    if (!response.ok) return;
    const tileset = await response.json();
    for (const layer of tileset.vector_layers ?? []) fieldNames[layer.id] = layer.fields;
    if (tileset.bounds) {
        townBounds = [[tileset.bounds[0], tileset.bounds[1]], [tileset.bounds[2], tileset.bounds[3]]];
        map.fitBounds(townBounds, {padding: 24, animate: false});
    }
    for (const id of [...COLLECTION_SOURCES].filter(mayShow)) {
        fetch(`${OGC}/collections/${id}/tiles/WebMercatorQuad`).then(r => r.ok ? r.json() : null).then(doc => {
            for (const layer of doc?.vector_layers ?? []) fieldNames[layer.id] = layer.fields;
        });
    }
}

function buildLayerSwitcher() {
    const box = document.getElementById('layers');
    for (const group of GROUPS.filter(g => mayShow(g.id))) {
        const label = document.createElement('label');
        const input = Object.assign(document.createElement('input'), {type: 'checkbox', checked: group.on});
        input.dataset.group = group.id;
        input.addEventListener('change', () => setGroupVisible(group, input.checked));
        const swatch = Object.assign(document.createElement('span'), {className: 'swatch'});
        swatch.style.background = group.colour;
        label.append(input, swatch, group.title);
        box.append(label);
        setGroupVisible(group, group.on);
    }
}

function setGroupVisible(group, visible) {
    for (const id of group.layers) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
}

function setBasemap(kind) {
    const imagery = kind === 'imagery';
    for (const id of VECTOR_BASE) map.setLayoutProperty(id, 'visibility', imagery ? 'none' : 'visible');
    for (const id of IMAGERY_BASE) map.setLayoutProperty(id, 'visibility', imagery ? 'visible' : 'none');
    // labels and outlines stay; on imagery they need a light halo colour to be read
    map.setPaintProperty('community-label', 'text-color', imagery ? '#fff7d6' : '#4a2a05');
    map.setPaintProperty('community-label', 'text-halo-color', imagery ? 'rgba(0,0,0,0.7)' : 'rgba(255,255,255,0.9)');
    map.setPaintProperty('community-line', 'line-color', imagery ? '#ffd54a' : '#8c510a');
    document.body.dataset.basemap = kind;
}
window.setBasemap = setBasemap;

const escapeHtml = s => String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));

function popupHtml(feature) {
    const sourceLayer = feature.sourceLayer ?? feature.source;   // GeoJSON sources have no source layer
    const props = feature.properties;
    const title = (FEATURE_TITLES[sourceLayer] ?? (() => sourceLayer))(props);
    const names = fieldNames[sourceLayer] ?? {};
    const rows = Object.entries(props)
        .filter(([key]) => key !== 'label')
        .map(([key, value]) => `<tr><th>${escapeHtml(names[key] ?? key)}</th><td>${escapeHtml(value)}</td></tr>`)
        .join('');
    return `<h3>${escapeHtml(title)}</h3><table>${rows}</table>`;
}

fieldNames[OFFICERS] = OFFICER_FIELDS;

// 网格员位置: the latest position of every officer, refreshed while the page is open
async function refreshOfficers() {
    const response = await fetch(`${OGC}/collections/${OFFICERS}/items?f=json&limit=1000`);
    if (response.ok) map.getSource(OFFICERS)?.setData(await response.json());
}

const CLICKABLE = ['officers-point', 'cases-point', 'cases-closed', 'cases-cluster', 'components-point', 'components-cluster', 'pois-point',
    'pois-cluster', 'unit-grids-fill'];

map.on('click', event => {
    const layers = CLICKABLE.filter(id => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
    const pad = 4;
    const box = [[event.point.x - pad, event.point.y - pad], [event.point.x + pad, event.point.y + pad]];
    const [feature] = map.queryRenderedFeatures(box, {layers});
    if (!feature) return;
    if (feature.properties.count && map.getZoom() < 15) {
        map.easeTo({center: event.lngLat, zoom: Math.min(map.getZoom() + 2, 16)});
        return;
    }
    new maplibregl.Popup({maxWidth: '320px'}).setLngLat(event.lngLat).setHTML(popupHtml(feature)).addTo(map);
});
for (const id of CLICKABLE) {
    map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
}

document.querySelectorAll('input[name="basemap"]').forEach(input =>
    input.addEventListener('change', () => input.checked && setBasemap(input.value)));
document.getElementById('full-extent').addEventListener('click', () => {
    if (townBounds) map.fitBounds(townBounds, {padding: 24});
});

// 登录/退出: the session cookie is HttpOnly; writes send the CSRF token the server gave us.
function showSession() {
    const form = document.getElementById('login-form');
    const who = document.getElementById('whoami');
    form.hidden = Boolean(session.user);
    who.hidden = !session.user;
    if (session.user) {
        const roles = session.user.roles.map(r => ROLE_NAMES[r] ?? r).join('、');
        document.getElementById('user-name').textContent = `${session.user.username}（${roles}）`;
    }
}

document.getElementById('login-form').addEventListener('submit', async event => {
    event.preventDefault();
    const form = event.target;
    const message = document.getElementById('login-error');
    message.textContent = '';
    const response = await fetch('/api/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({username: form.username.value.trim(), password: form.password.value})});
    if (response.ok) {
        location.reload();  // the layers the new user may read are chosen when the page starts
        return;
    }
    const body = await response.json().catch(() => ({}));
    message.textContent = response.status === 401 ? '用户名或密码错误，或账号已锁定' :
        response.status === 429 ? '尝试过于频繁，请稍后再试' : `登录失败：${body.description ?? response.status}`;
});

document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/auth/logout', {method: 'POST', headers: {'X-CSRF-Token': session.csrf_token ?? ''}});
    location.reload();
});
showSession();

map.on('error', event => {
    // a missing optional source (e.g. imagery before a town is loaded) is shown, not thrown
    status.textContent = `加载失败：${event.error?.message ?? event.error}`;
    console.error(event.error);
});

map.on('load', async () => {
    buildLayerSwitcher();
    setBasemap('vector');
    await loadTownBounds();
    if (readable.has(OFFICERS)) {
        await refreshOfficers();
        setInterval(refreshOfficers, OFFICER_REFRESH_MS);
    }
    status.textContent = '';
    document.body.dataset.ready = '1';
});
