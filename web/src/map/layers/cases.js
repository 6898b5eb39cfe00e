// 案件: open cases coloured by their time-limit state (SLA), closed ones from zoom 16.
import {FONT, propertyRows, slot, tileSource} from './common.js';
import PALETTE from './palette.json';

// colours from palette.json (shared with the GeoServer styles, geoserver/sld.py)
const P = PALETTE.cases;
const SLA = P.classes.map(c => [c.value, c.fill]);
const SLA_COLOURS = ['match', ['coalesce', ['get', P.property], ''], ...SLA.flat(), P.fill];
const SRC = {source: 'cases', 'source-layer': 'cases'};

export default {
    id: 'cases',
    collection: 'cases',
    title: '案件',
    folder: '案件',
    visible: true,
    sources: () => ({cases: tileSource('cases')}),
    layers: [
        // the command centre watches open cases: clusters count them
        slot('overlay', {id: 'cases-cluster', type: 'circle', ...SRC,
            filter: ['all', ['has', 'count'], ['>', ['get', 'open_count'], 0]],
            paint: {'circle-color': SLA_COLOURS, 'circle-opacity': 0.85,
                'circle-radius': ['interpolate', ['linear'], ['get', 'open_count'], 1, 7, 20, 11, 200, 18],
                'circle-stroke-color': '#fff', 'circle-stroke-width': 1.2}}),
        slot('overlay', {id: 'cases-cluster-count', type: 'symbol', ...SRC,
            filter: ['all', ['has', 'count'], ['>', ['get', 'open_count'], 0]],
            layout: {'text-field': ['to-string', ['get', 'open_count']], 'text-font': FONT, 'text-size': 10,
                'text-allow-overlap': true},
            paint: {'text-color': '#fff'}}),
        slot('overlay', {id: 'cases-closed', type: 'circle', ...SRC, minzoom: 16,
            filter: ['all', ['!', ['has', 'count']], ['==', ['get', 'is_closed'], true]],
            paint: {'circle-color': P.fill, 'circle-opacity': 0.45, 'circle-radius': 4,
                'circle-stroke-color': '#fff', 'circle-stroke-width': 1}}),
        slot('overlay', {id: 'cases-point', type: 'circle', ...SRC,
            filter: ['all', ['!', ['has', 'count']], ['!=', ['get', 'is_closed'], true]],
            paint: {'circle-color': SLA_COLOURS, 'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 4, 18, 8],
                'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5}}),
    ],
    legend: [...P.classes.map(c => ({label: c.label, color: c.fill, kind: 'circle', labelKind: ['sla', c.value]})),
        {label: P.label, color: P.fill, kind: 'circle'}],
    clickable: ['cases-point', 'cases-closed', 'cases-cluster'],
    popup: (feature, ctx) => {
        const p = feature.properties;
        return {title: p.count ? `未结案件：${p.open_count} 件（共 ${p.count} 件）` : `案件 ${p.case_number ?? ''}`,
            rows: propertyRows(feature, ctx, 'cases')};
    },
};
