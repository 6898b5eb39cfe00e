// Which map is open, without MapLibre itself: the top bar's tools (search, alerts) are on every page
// and only need to know whether there is a map to fly to — importing map.js would make every page
// fetch and compile MapLibre (1 MB). map.js creates the map and registers it here.
let map = null;
let ready = false;
let waiting = [];

export function debugHandle() {
    window.__civicgrid ??= {};
    return window.__civicgrid;
}

export function getMap() {
    return map;
}

export function onMapReady(fn) {
    if (map && ready) fn(map);
    else waiting.push(fn);
}

export function setMap(created) {
    map = created;
}

// the map's `load`: what waited for it runs now (only for the map that is still open)
export function mapLoaded(loaded) {
    if (loaded !== map) return;
    ready = true;
    const callbacks = waiting;
    waiting = [];
    for (const fn of callbacks) fn(loaded);
}

export function destroyMap() {
    if (!map) return;
    map.remove();
    map = null;
    ready = false;
    waiting = [];
}
