// The layer groups and tools of the map: one line per module (the only shared edit when adding one).
// Order: layer groups as listed in the layer tree (drawing order comes from each layer's slot);
// tools as shown in the tool bar, for those the server lists in /api/auth/me `tools`.
import basemap from './layers/basemap.js';
import cases from './layers/cases.js';
import communities from './layers/communities.js';
import components from './layers/components.js';
import officers from './layers/officers.js';
import pois from './layers/pois.js';
import town from './layers/town.js';
import unitGrids from './layers/unitGrids.js';
import caseQuery from './tools/caseQuery.js';
import clusters from './tools/clusters.js';
import edit from './tools/edit.js';
import exportTool from './tools/export.js';
import geofence from './tools/geofence.js';
import heatmap from './tools/heatmap.js';
import hotspots from './tools/hotspots.js';
import identify from './tools/identify.js';
import measure from './tools/measure.js';
import officersTool from './tools/officers.js';
import playback from './tools/playback.js';
import plot from './tools/plot.js';
import query from './tools/query.js';
import search from './tools/search.js';
import thematic from './tools/thematic.js';

export const layerGroups = [
    basemap,
    town,
    communities,
    unitGrids,
    components,
    pois,
    cases,
    officers,
];

export const tools = [
    measure,
    plot,
    search,
    identify,
    query,
    caseQuery,
    heatmap,
    clusters,
    hotspots,
    thematic,
    exportTool,
    officersTool,
    playback,
    geofence,
    edit,
];
