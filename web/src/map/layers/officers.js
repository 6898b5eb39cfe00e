// 网格员位置: the latest position of every officer, for the roles that may read it (the group is
// gated by its collection), from /api/officers (status 在岗 / 离线 / 非工作时段 and open geofence
// alerts) and refreshed while the page is open. Drawn as rings with a white core and the name,
// coloured by status, with a red halo while the officer is outside his grid — unlike the small
// filled component dots.
import {toGeoJSON, subscribe} from '../officersData.js';
import {FONT, slot} from './common.js';

const ID = 'officer-latest';
const COLORS = {on_duty: '#0a7d3b', offline: '#8a8a8a', off_shift: '#b9b9b9'};

export default {
    id: ID,
    collection: ID,
    title: '网格员位置',
    folder: '人员',
    visible: true,
    sources: () => ({[ID]: {type: 'geojson', data: {type: 'FeatureCollection', features: []}}}),
    layers: [
        slot('overlay', {id: 'officers-alert', type: 'circle', source: ID, filter: ['==', ['get', 'alert'], true], paint: {
            'circle-radius': 14, 'circle-color': 'rgba(214, 48, 49, 0.25)',
            'circle-stroke-color': '#d63031', 'circle-stroke-width': 2}}),
        slot('overlay', {id: 'officers-point', type: 'circle', source: ID, paint: {
            'circle-radius': 7, 'circle-color': '#ffffff',
            'circle-stroke-color': ['match', ['get', 'status'], 'on_duty', COLORS.on_duty, 'offline', COLORS.offline,
                COLORS.off_shift],
            'circle-stroke-width': 4}}),
        slot('label', {id: 'officers-label', type: 'symbol', source: ID, minzoom: 13, layout: {
            'text-field': ['get', 'officer_name'], 'text-font': FONT, 'text-size': 12, 'text-offset': [0, 1.3],
            'text-anchor': 'top'}, paint: {'text-color': '#0a4d25', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5}}),
    ],
    legend: [
        {label: '在岗', color: COLORS.on_duty, kind: 'circle'},
        {label: '离线', color: COLORS.offline, kind: 'circle'},
        {label: '非工作时段', color: COLORS.off_shift, kind: 'circle'},
        {label: '越界告警', color: '#d63031', kind: 'circle'},
    ],
    clickable: ['officers-point'],
    popup: feature => {
        const p = feature.properties;
        const rows = [['编号', p.officer_code], ['状态', p.status_name], ['责任网格', p.grids || '未分配'],
            ['最后定位', p.last_fix]];
        if (p.alert === true || p.alert === 'true') rows.push(['电子围栏', '越界中']);
        return {title: `网格员 · ${p.officer_name ?? p.officer_code}`, rows};
    },
    // returns the cleanup
    start(map) {
        // the page does not wait for the officers (its first idle is the base layers')
        const stop = subscribe(doc => map.getSource(ID)?.setData(toGeoJSON(doc)));
        return {ready: Promise.resolve(), stop};
    },
};
