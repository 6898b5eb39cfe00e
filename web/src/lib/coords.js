// Coordinates shown to users: CGCS2000 lon/lat (the data's EPSG:4490; MapLibre's lon/lat are the
// same numbers) and the 3-degree Gauss-Krüger plane of the town, EPSG:4548 (central meridian
// 117°E, false easting 500 km). X is the northing and Y the easting, as Chinese surveys write them.
// proj4 is loaded on first use, so it is not part of the map page's first load.
export const CGCS2000 = '+proj=longlat +ellps=GRS80 +no_defs +type=crs';
export const EPSG_4548 = '+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs +type=crs';

let projector = null;

export function loadProjector() {
    projector ??= import('proj4').then(({default: proj4}) => proj4(CGCS2000, EPSG_4548));
    return projector;
}

// → {x: northing, y: easting} in metres
export async function toPlane(lon, lat) {
    const p = await loadProjector();
    const [easting, northing] = p.forward([lon, lat]);
    return {x: northing, y: easting};
}

export function formatLonLat(lon, lat, digits = 6) {
    return `${lon.toFixed(digits)}°E, ${lat.toFixed(digits)}°N`;
}

export function formatPlane({x, y}) {
    return `X ${x.toFixed(2)} m, Y ${y.toFixed(2)} m`;
}
