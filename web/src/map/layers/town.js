// 镇界: the town boundary, from the basemap tiles.
import {slot} from './common.js';
import PALETTE from './palette.json';

const P = PALETTE['town-boundary'];   // shared with the GeoServer styles (geoserver/sld.py)

export default {
    id: 'town-boundary',
    collection: 'town-boundary',
    title: '镇界',
    folder: '基础地理',
    visible: true,
    sources: () => ({}),
    layers: [
        slot('boundary', {id: 'town-line', type: 'line', source: 'basemap', 'source-layer': 'town',
            paint: {'line-color': P.stroke, 'line-width': P.strokeWidth, 'line-opacity': P.strokeOpacity}}),
    ],
    legend: [{label: P.label, color: P.stroke, kind: 'line'}],
};
