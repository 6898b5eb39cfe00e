// 社区/村: community and village outlines and names, from the basemap tiles.
import {FONT, slot} from './common.js';
import PALETTE from './palette.json';

const P = PALETTE.communities;   // shared with the GeoServer styles (geoserver/sld.py)

export default {
    id: 'communities',
    collection: 'communities',
    title: '社区/村界',
    folder: '基础地理',
    visible: true,
    sources: () => ({}),
    layers: [
        slot('boundary', {id: 'community-line', type: 'line', source: 'basemap', 'source-layer': 'community',
            filter: ['==', ['get', 'label'], 0],
            paint: {'line-color': P.stroke, 'line-width': P.strokeWidth, 'line-dasharray': P.dash, 'line-opacity': P.strokeOpacity}}),
        slot('label', {id: 'community-label', type: 'symbol', source: 'basemap', 'source-layer': 'community',
            filter: ['==', ['get', 'label'], 1],
            layout: {'text-field': ['get', 'name'], 'text-font': FONT,
                'text-size': ['interpolate', ['linear'], ['zoom'], 11, 11, 16, 16]},
            paint: {'text-color': '#4a2a05', 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.8}}),
    ],
    legend: [{label: P.label, color: P.stroke, kind: 'line'}],
    // on imagery the outlines and names need light colours to be read
    basemapPaint: {
        imagery: {'community-label': {'text-color': '#fff7d6', 'text-halo-color': 'rgba(0,0,0,0.7)'},
            'community-line': {'line-color': '#ffd54a'}},
        vector: {'community-label': {'text-color': '#4a2a05', 'text-halo-color': 'rgba(255,255,255,0.9)'},
            'community-line': {'line-color': P.stroke}},
    },
};
