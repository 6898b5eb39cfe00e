// The one highlight on the map (a search result, a chosen row): a ring on points, an outline on
// areas. Added on first use above every other layer.
const SOURCE = 'highlight';

function ensure(map) {
    if (map.getSource(SOURCE)) return;
    map.addSource(SOURCE, {type: 'geojson', data: {type: 'FeatureCollection', features: []}});
    map.addLayer({id: 'highlight-fill', type: 'fill', source: SOURCE, filter: ['==', ['geometry-type'], 'Polygon'],
        paint: {'fill-color': '#00b4ff', 'fill-opacity': 0.12}});
    map.addLayer({id: 'highlight-line', type: 'line', source: SOURCE,
        filter: ['in', ['geometry-type'], ['literal', ['Polygon', 'LineString']]],
        paint: {'line-color': '#00b4ff', 'line-width': 3}});
    map.addLayer({id: 'highlight-point', type: 'circle', source: SOURCE, filter: ['==', ['geometry-type'], 'Point'],
        paint: {'circle-radius': 12, 'circle-color': 'rgba(0,180,255,0.15)', 'circle-stroke-color': '#00b4ff',
            'circle-stroke-width': 3}});
}

export function highlight(map, geometry, properties = {}) {
    ensure(map);
    map.getSource(SOURCE).setData({type: 'FeatureCollection',
        features: geometry ? [{type: 'Feature', geometry, properties}] : []});
}

export function clearHighlight(map) {
    if (map.getSource(SOURCE)) highlight(map, null);
}

// fly to a [w, s, e, n] box or a point
export function flyToResult(map, {bbox, point}) {
    if (bbox && (bbox[2] - bbox[0] > 1e-5 || bbox[3] - bbox[1] > 1e-5)) {
        map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], {padding: 60, maxZoom: 17, duration: 800});
    } else if (point) {
        map.flyTo({center: point, zoom: Math.max(map.getZoom(), 17), duration: 800});
    }
}
