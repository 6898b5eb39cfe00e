// 镇界: the town boundary, from the basemap tiles.
import {slot} from './common.js';

export default {
    id: 'town-boundary',
    collection: 'town-boundary',
    title: '镇界',
    folder: '基础地理',
    visible: true,
    sources: () => ({}),
    layers: [
        slot('boundary', {id: 'town-line', type: 'line', source: 'basemap', 'source-layer': 'town',
            paint: {'line-color': '#b2182b', 'line-width': 2.4, 'line-opacity': 0.85}}),
    ],
    legend: [{label: '镇界', color: '#b2182b', kind: 'line'}],
};
