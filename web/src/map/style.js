// The style of the map, assembled from the layer-group modules the caller may see, and the
// switches the layer tree and the basemap switch turn (visibility, opacity, basemap).
import {IMAGERY_BASE, VECTOR_BASE} from './layers/basemap.js';
import {SLOTS} from './layers/common.js';

const OPACITY = {
    fill: ['fill-opacity'],
    line: ['line-opacity'],
    circle: ['circle-opacity', 'circle-stroke-opacity'],
    symbol: ['text-opacity', 'icon-opacity'],
    raster: ['raster-opacity'],
    heatmap: ['heatmap-opacity'],
    'fill-extrusion': ['fill-extrusion-opacity'],
};

const slotOf = layer => SLOTS.indexOf(layer.metadata?.['civicgrid:slot'] ?? 'overlay');

export function buildStyle(groups) {
    const sources = {};
    const layers = [];
    for (const group of groups) {
        Object.assign(sources, group.sources());
        group.layers.forEach((layer, index) => {
            const visible = group.basemap || group.visible;
            const hidden = !visible || layer.layout?.visibility === 'none';
            layers.push({layer: {...layer, layout: {...layer.layout, visibility: hidden ? 'none' : 'visible'}},
                order: [slotOf(layer), layers.length, index]});
        });
    }
    // stable: within one slot the registry's order stays
    layers.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
    return {version: 8, name: 'civicgrid', sources, layers: layers.map(x => x.layer)};
}

export function setGroupVisible(map, group, visible) {
    for (const layer of group.layers) {
        if (map.getLayer(layer.id)) map.setLayoutProperty(layer.id, 'visibility', visible ? 'visible' : 'none');
    }
    group.onVisible?.(map, visible);
}

// opacity 0..1 scales each layer's own opacity (numbers) or replaces it (expressions)
export function setGroupOpacity(map, group, opacity) {
    for (const layer of group.layers) {
        if (!map.getLayer(layer.id)) continue;
        for (const prop of OPACITY[layer.type] ?? []) {
            const own = layer.paint?.[prop];
            if (prop === 'icon-opacity' && own === undefined) continue;
            const value = typeof own === 'number' ? own * opacity : opacity;
            map.setPaintProperty(layer.id, prop, value);
        }
    }
}

export function setBasemap(map, kind, groups) {
    const imagery = kind === 'imagery';
    for (const id of VECTOR_BASE) map.setLayoutProperty(id, 'visibility', imagery ? 'none' : 'visible');
    for (const id of IMAGERY_BASE) map.setLayoutProperty(id, 'visibility', imagery ? 'visible' : 'none');
    for (const group of groups) {
        for (const [layerId, paint] of Object.entries(group.basemapPaint?.[kind] ?? {})) {
            if (!map.getLayer(layerId)) continue;
            for (const [prop, value] of Object.entries(paint)) map.setPaintProperty(layerId, prop, value);
        }
    }
    document.body.dataset.basemap = kind;
}

// the clickable style layers that are drawn now
export function clickableLayers(map, groups) {
    return groups.flatMap(g => g.clickable ?? [])
        .filter(id => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
}
