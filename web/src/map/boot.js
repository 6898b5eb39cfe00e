// What the map page needs before it can build its style, asked for as soon as the app's code runs
// (in parallel with the rest of the first load): the collections the caller may read, with their
// Chinese titles, and the basemap's TileJSON (the town's bounds).
const ogc = `${location.origin}/ogc`;

async function json(url) {
    const response = await fetch(url, {headers: {Accept: 'application/json'}});
    return response.ok ? response.json() : null;
}

let boot = null;

export function bootData() {
    boot ??= {
        collections: json(`${ogc}/collections?f=json&lang=zh`).catch(() => null),
        tileset: json(`${ogc}/tiles/WebMercatorQuad`).catch(() => null),
    };
    return boot;
}

// a second visit of the map page (after another page) asks again: the session may have changed
export function forgetBoot() {
    boot = null;
}
