// 网格员位置: the latest position of every officer, for the roles that may read it (the group is
// gated by its collection), refreshed while the page is open. Drawn as green/grey rings with
// names, unlike the filled component dots.
import {FONT, ogcBase, propertyRows, slot} from './common.js';

const REFRESH_MS = 30_000;
const ID = 'officer-latest';

export default {
    id: ID,
    collection: ID,
    title: '网格员位置',
    folder: '人员',
    visible: true,
    // loaded by MapLibre's worker with the tiles, then refreshed
    sources: () => ({[ID]: {type: 'geojson', data: `${ogcBase()}/collections/${ID}/items?f=json&limit=1000`}}),
    layers: [
        slot('overlay', {id: 'officers-point', type: 'circle', source: ID, paint: {
            'circle-radius': 6, 'circle-color': ['case', ['get', 'active'], '#0a7d3b', '#8a8a8a'],
            'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2}}),
        slot('label', {id: 'officers-label', type: 'symbol', source: ID, minzoom: 13, layout: {
            'text-field': ['get', 'officer_name'], 'text-font': FONT, 'text-size': 12, 'text-offset': [0, 1.2],
            'text-anchor': 'top'}, paint: {'text-color': '#0a4d25', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5}}),
    ],
    legend: [{label: '在岗', color: '#0a7d3b', kind: 'circle'}, {label: '离线', color: '#8a8a8a', kind: 'circle'}],
    clickable: ['officers-point'],
    popup: (feature, ctx) => ({
        title: `网格员 · ${feature.properties.officer_name ?? feature.properties.officer_code}`,
        rows: propertyRows(feature, ctx, ID),
    }),
    // returns the cleanup
    start(map) {
        const refresh = async () => {
            const response = await fetch(`${ogcBase()}/collections/${ID}/items?f=json&limit=1000`);
            if (response.ok) map.getSource(ID)?.setData(await response.json());
        };
        const timer = setInterval(refresh, REFRESH_MS);
        return {ready: Promise.resolve(), stop: () => clearInterval(timer)};
    },
};
