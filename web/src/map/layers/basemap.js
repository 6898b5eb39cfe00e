// 底图: the vector basemap drawn from our own tiles (/ogc/tiles) and the imagery (影像) PMTiles
// archive read with range requests. Not a layer of the tree: the basemap switch shows one or the other.
import {FONT, ogcBase, slot, tileOptions} from './common.js';

export const VECTOR_BASE = ['landuse', 'road-casing', 'road', 'road-label'];
export const IMAGERY_BASE = ['imagery'];

export default {
    id: 'basemap',
    collection: null,
    basemap: true,
    title: '底图',
    sources: () => ({
        basemap: {type: 'vector', tiles: [`${ogcBase()}/tiles/WebMercatorQuad/{z}/{y}/{x}`], minzoom: 8, maxzoom: 18,
            ...(tileOptions.bounds ? {bounds: tileOptions.bounds} : {})},
        imagery: {type: 'raster', url: `pmtiles://${location.origin}/basemap/imagery.pmtiles`, tileSize: 256},
    }),
    layers: [
        slot('background', {id: 'background', type: 'background', paint: {'background-color': '#eef0e6'}}),
        slot('base', {id: 'landuse', type: 'fill', source: 'basemap', 'source-layer': 'landuse', paint: {
            'fill-color': ['match', ['get', 'kind'],
                'water', '#aad3df', 'farmland', '#e6ecd2', 'green', '#c8e3b5', 'industrial', '#e3dde8',
                'commercial', '#f3e0dc', 'urban', '#ece7e1', 'residential', '#f1ebe0', 'transport', '#eeeeee',
                '#eef0e6'],
        }}),
        slot('imagery', {id: 'imagery', type: 'raster', source: 'imagery', layout: {visibility: 'none'}}),
        slot('base-line', {id: 'road-casing', type: 'line', source: 'basemap', 'source-layer': 'road',
            layout: {'line-cap': 'round', 'line-join': 'round'}, paint: {
                'line-color': '#c9c2b6',
                'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 11,
                    ['match', ['get', 'kind'], 'arterial', 2.5, 'street', 1.2, 0.5], 17,
                    ['match', ['get', 'kind'], 'arterial', 22, 'street', 13, 6]],
            }}),
        slot('base-line', {id: 'road', type: 'line', source: 'basemap', 'source-layer': 'road',
            layout: {'line-cap': 'round', 'line-join': 'round'}, paint: {
                'line-color': ['match', ['get', 'kind'], 'arterial', '#fcd990', '#ffffff'],
                'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 11,
                    ['match', ['get', 'kind'], 'arterial', 1.6, 'street', 0.7, 0.3], 17,
                    ['match', ['get', 'kind'], 'arterial', 19, 'street', 11, 4.5]],
            }}),
        slot('base-label', {id: 'road-label', type: 'symbol', source: 'basemap', 'source-layer': 'road', minzoom: 14,
            layout: {'symbol-placement': 'line', 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 12},
            paint: {'text-color': '#5a4f3f', 'text-halo-color': '#fff', 'text-halo-width': 1.5}}),
    ],
};
