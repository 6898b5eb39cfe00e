// 兴趣点: points of interest, clustered below zoom 15; off by default.
import {CLUSTER_RADIUS, FONT, propertyRows, slot, tileSource} from './common.js';
import PALETTE from './palette.json';

const P = PALETTE.pois;   // shared with the GeoServer styles (geoserver/sld.py)

const SRC = {source: 'pois', 'source-layer': 'pois'};

export default {
    id: 'pois',
    collection: 'pois',
    title: '兴趣点',
    folder: '城市管理',
    visible: false,
    sources: () => ({pois: tileSource('pois')}),
    layers: [
        slot('point', {id: 'pois-cluster', type: 'circle', ...SRC, filter: ['has', 'count'],
            paint: {'circle-color': P.fill, 'circle-opacity': 0.6, 'circle-radius': CLUSTER_RADIUS}}),
        slot('point', {id: 'pois-point', type: 'circle', ...SRC, filter: ['!', ['has', 'count']],
            paint: {'circle-color': P.fill, 'circle-radius': P.radius, 'circle-stroke-color': P.stroke,
                'circle-stroke-width': P.strokeWidth}}),
        slot('label', {id: 'pois-label', type: 'symbol', ...SRC, filter: ['!', ['has', 'count']],
            layout: {'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 11, 'text-offset': [0, 1.1],
                'text-anchor': 'top', 'text-optional': true},
            paint: {'text-color': '#7a1f4f', 'text-halo-color': '#fff', 'text-halo-width': 1.2}}),
    ],
    legend: [{label: P.label, color: P.fill, kind: 'circle'}],
    clickable: ['pois-point', 'pois-cluster'],
    popup: (feature, ctx) => {
        const p = feature.properties;
        return {title: p.count ? `兴趣点聚合：${p.count} 个` : `兴趣点 · ${p.name ?? ''}`,
            rows: propertyRows(feature, ctx, 'pois')};
    },
};
