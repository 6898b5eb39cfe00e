// A collection the server lists that has no module of its own (e.g. 责任网格, 网格员轨迹点): drawn from
// its GeoJSON items when first turned on, points as dots and areas as outlines.
import {ogcBase, propertyRows, slot} from './common.js';
import PALETTE from './palette.json';

const LIMIT = 2000;

export function genericGroup(collection, title) {
    const src = `generic-${collection}`;
    const P = PALETTE.default;   // shared with the GeoServer styles (geoserver/sld.py)
    const colour = P.fill;
    let loaded = false;
    return {
        id: collection,
        collection,
        title,
        folder: '其他图层',
        visible: false,
        generic: true,
        sources: () => ({[src]: {type: 'geojson', data: {type: 'FeatureCollection', features: []}}}),
        layers: [
            slot('area', {id: `${src}-fill`, type: 'fill', source: src, filter: ['==', ['geometry-type'], 'Polygon'],
                paint: {'fill-color': colour, 'fill-opacity': P.fillOpacity}}),
            slot('area-line', {id: `${src}-line`, type: 'line', source: src,
                filter: ['in', ['geometry-type'], ['literal', ['Polygon', 'LineString']]],
                paint: {'line-color': P.stroke, 'line-width': P.strokeWidth}}),
            slot('point', {id: `${src}-point`, type: 'circle', source: src, filter: ['==', ['geometry-type'], 'Point'],
                paint: {'circle-color': colour, 'circle-radius': P.radius, 'circle-stroke-color': P.pointStroke,
                    'circle-stroke-width': 1}}),
        ],
        legend: [{label: title, color: colour, kind: 'fill'}],
        clickable: [`${src}-fill`, `${src}-point`],
        popup: (feature, ctx) => ({title, rows: propertyRows(feature, ctx, collection)}),
        onVisible(map, visible) {
            if (!visible || loaded) return;
            loaded = true;
            map.getSource(src)?.setData(`${ogcBase()}/collections/${collection}/items?f=json&limit=${LIMIT}`);
        },
    };
}
