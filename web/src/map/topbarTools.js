// The tools that live in the top bar (搜索, 电子围栏告警) on every page, for the callers the server
// gives them. Apart from registry.js because the top bar is on every page: importing the registry
// there would pull every map tool — and MapLibre with them — into pages that have no map. (The
// registry lists them too, for the map page.)
import geofence from './tools/geofence.js';
import search from './tools/search.js';

export const topbarTools = [search, geofence];
