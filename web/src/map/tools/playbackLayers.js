// The style layers of the track playback and the maths of the moving head: the track (blue, with
// arrows along it), the stretches outside the grid (red), signal gaps (dashed grey), stops (orange
// with minutes) and the head (the officer at the playback time).
const SRC = {track: 'pb-track', outside: 'pb-outside', gaps: 'pb-gaps', stops: 'pb-stops', head: 'pb-head'};
const LAYERS = ['pb-track-line', 'pb-track-arrows', 'pb-outside-line', 'pb-gaps-line', 'pb-stops-circle',
    'pb-stops-label', 'pb-head-circle'];
const EMPTY = {type: 'FeatureCollection', features: []};
let current = null;

function arrowImage(size = 18) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = size;
    const c = canvas.getContext('2d');
    c.fillStyle = '#ffffff';
    c.strokeStyle = '#1f4e79';
    c.lineWidth = 1.5;
    c.beginPath();
    c.moveTo(size * 0.2, size * 0.2);
    c.lineTo(size * 0.85, size * 0.5);
    c.lineTo(size * 0.2, size * 0.8);
    c.lineTo(size * 0.38, size * 0.5);
    c.closePath();
    c.fill();
    c.stroke();
    return c.getImageData(0, 0, size, size);
}

export function installPlayback(map) {
    clearPlayback();
    current = map;
    for (const id of Object.values(SRC)) map.addSource(id, {type: 'geojson', data: EMPTY});
    if (!map.hasImage('pb-arrow')) map.addImage('pb-arrow', arrowImage(), {pixelRatio: 1});
    map.addLayer({id: 'pb-track-line', type: 'line', source: SRC.track, layout: {'line-join': 'round', 'line-cap': 'round'},
        paint: {'line-color': '#1f6fd1', 'line-width': 4, 'line-opacity': 0.85}});
    map.addLayer({id: 'pb-track-arrows', type: 'symbol', source: SRC.track, layout: {
        'symbol-placement': 'line', 'symbol-spacing': 90, 'icon-image': 'pb-arrow', 'icon-allow-overlap': true,
        'icon-rotation-alignment': 'map'}});
    map.addLayer({id: 'pb-outside-line', type: 'line', source: SRC.outside, layout: {'line-join': 'round', 'line-cap': 'round'},
        paint: {'line-color': '#d63031', 'line-width': 6}});
    map.addLayer({id: 'pb-gaps-line', type: 'line', source: SRC.gaps,
        paint: {'line-color': '#7f8c8d', 'line-width': 3, 'line-dasharray': [1.5, 1.5]}});
    map.addLayer({id: 'pb-stops-circle', type: 'circle', source: SRC.stops, paint: {
        'circle-radius': ['interpolate', ['linear'], ['get', 'minutes'], 5, 7, 60, 13], 'circle-color': '#f39c12',
        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2}});
    map.addLayer({id: 'pb-stops-label', type: 'symbol', source: SRC.stops, layout: {
        'text-field': ['concat', '驻留 ', ['to-string', ['get', 'minutes']], ' 分'], 'text-font': ['WenQuanYi Micro Hei'],
        'text-size': 11, 'text-offset': [0, 1.4], 'text-anchor': 'top'},
    paint: {'text-color': '#8a4b00', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5}});
    map.addLayer({id: 'pb-head-circle', type: 'circle', source: SRC.head, paint: {
        'circle-radius': 8, 'circle-color': '#1f6fd1', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3}});
}

export function clearPlayback() {
    const map = current;
    current = null;
    if (!map || !map.style) return;
    for (const id of LAYERS) if (map.getLayer(id)) map.removeLayer(id);
    for (const id of Object.values(SRC)) if (map.getSource(id)) map.removeSource(id);
    delete map.__civicgridPlayback;
}

// the track document of the `track` process → what the layers draw and the head moves along
export function prepare(doc) {
    const features = doc.features ?? [];
    const track = features.find(f => f.properties?.kind === 'track');
    const byKind = kind => ({type: 'FeatureCollection', features: features.filter(f => f.properties?.kind === kind)});
    const vertices = [];    // [epoch ms, lon, lat, segment]
    (track?.geometry?.coordinates ?? []).forEach((line, s) => {
        const times = track.properties.times[s];
        line.forEach((xy, i) => vertices.push([Date.parse(times[i]), xy[0], xy[1], s]));
    });
    return {
        track: track?.geometry ? {type: 'FeatureCollection', features: [track]} : EMPTY,
        outside: byKind('outside'), gaps: byKind('gap'), stops: byKind('stop'), vertices,
        start: vertices.length ? vertices[0][0] : null, end: vertices.length ? vertices[vertices.length - 1][0] : null,
    };
}

export function draw(map, prepared) {
    for (const key of ['track', 'outside', 'gaps', 'stops']) map.getSource(SRC[key])?.setData(prepared[key]);
    map.getSource(SRC.head)?.setData(EMPTY);
}

// where the officer was at `t` (epoch ms): interpolated between vertices of one segment; in a gap
// he stays at the last fix before it (`inGap` true)
export function positionAt(vertices, t) {
    if (!vertices.length) return null;
    if (t <= vertices[0][0]) return {lon: vertices[0][1], lat: vertices[0][2], inGap: false};
    let lo = 0;
    let hi = vertices.length - 1;
    if (t >= vertices[hi][0]) return {lon: vertices[hi][1], lat: vertices[hi][2], inGap: false};
    while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (vertices[mid][0] <= t) lo = mid; else hi = mid;
    }
    const a = vertices[lo];
    const b = vertices[hi];
    if (a[3] !== b[3]) return {lon: a[1], lat: a[2], inGap: true};
    const f = (t - a[0]) / Math.max(1, b[0] - a[0]);
    return {lon: a[1] + (b[1] - a[1]) * f, lat: a[2] + (b[2] - a[2]) * f, inGap: false};
}

export function moveHead(map, where) {
    map.getSource(SRC.head)?.setData(where ? {type: 'FeatureCollection', features: [
        {type: 'Feature', geometry: {type: 'Point', coordinates: [where.lon, where.lat]}, properties: {}}]} : EMPTY);
}

export function bounds(vertices) {
    if (!vertices.length) return null;
    let [w, s, e, n] = [180, 90, -180, -90];
    for (const [, x, y] of vertices) {
        w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
    }
    return [[w, s], [e, n]];
}
