// Result overlays of the analysis tools: a GeoJSON source with its layers, added on top of the map
// while the tool is active and removed with it. Features are keyed by `promoteId` so a table row and
// its feature share one id: feature-state `hover` / `selected` draws the highlight.
const EMPTY = {type: 'FeatureCollection', features: []};

export class Overlay {
    constructor(id, layers, {promoteId = '_rid'} = {}) {
        this.id = id;
        this.layers = layers.map(layer => ({...layer, source: id}));
        this.promoteId = promoteId;
        this.map = null;
        this.handlers = [];
        this.marked = {hover: null, selected: null};
    }

    add(map, data = EMPTY) {
        this.map = map;
        if (!map.getSource(this.id)) map.addSource(this.id, {type: 'geojson', data, promoteId: this.promoteId});
        else map.getSource(this.id).setData(data);
        for (const layer of this.layers) if (!map.getLayer(layer.id)) map.addLayer(layer);
        return this;
    }

    setData(data) {
        this.marked = {hover: null, selected: null};
        this.map?.getSource(this.id)?.setData(data ?? EMPTY);
    }

    // feature-state flag on one feature (null clears)
    mark(flag, id) {
        const map = this.map;
        if (!map?.getSource(this.id)) return;
        const previous = this.marked[flag];
        if (previous !== null && previous !== undefined) map.setFeatureState({source: this.id, id: previous}, {[flag]: false});
        this.marked[flag] = id ?? null;
        if (id !== null && id !== undefined) map.setFeatureState({source: this.id, id}, {[flag]: true});
    }

    // click on one of `layerIds` → fn(feature); the pointer cursor over them
    onClick(layerIds, fn) {
        const map = this.map;
        const click = event => {
            const [feature] = map.queryRenderedFeatures(event.point, {layers: layerIds.filter(id => map.getLayer(id))});
            if (feature) fn(feature, event);
        };
        const enter = () => { map.getCanvas().style.cursor = 'pointer'; };
        const leave = () => { map.getCanvas().style.cursor = ''; };
        map.on('click', click);
        this.handlers.push(['click', click]);
        for (const id of layerIds) {
            map.on('mouseenter', id, enter);
            map.on('mouseleave', id, leave);
            this.handlers.push(['mouseenter', id, enter], ['mouseleave', id, leave]);
        }
    }

    remove() {
        const map = this.map;
        if (!map) return;
        for (const args of this.handlers) map.off(...args);
        this.handlers = [];
        for (const layer of this.layers) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
        if (map.getSource(this.id)) map.removeSource(this.id);
        this.map = null;
    }
}

// [west, south, east, north] of a GeoJSON geometry or feature collection
export function bboxOf(input) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    const walk = c => {
        if (typeof c[0] === 'number') {
            w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
        } else c.forEach(walk);
    };
    const geoms = input.type === 'FeatureCollection' ? input.features.map(f => f.geometry)
        : input.type === 'Feature' ? [input.geometry] : [input];
    for (const g of geoms) if (g?.coordinates) walk(g.coordinates);
    return Number.isFinite(w) ? [w, s, e, n] : null;
}

export function flyToGeometry(map, geometry, maxZoom = 18) {
    const box = bboxOf(geometry);
    if (!box) return;
    if (box[0] === box[2] && box[1] === box[3]) map.flyTo({center: [box[0], box[1]], zoom: Math.max(map.getZoom(), 17)});
    else map.fitBounds([[box[0], box[1]], [box[2], box[3]]], {padding: 80, maxZoom});
}

// a sequential colour ramp (light yellow → dark red) for counts and densities
export const RAMP = ['#ffffb2', '#fed976', '#feb24c', '#fd8d3c', '#f03b20', '#bd0026'];

// class breaks by quantiles of the values (at most RAMP.length classes, no empty class)
export function breaks(values, classes = RAMP.length) {
    const sorted = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const out = [];
    for (let i = 1; i < classes; i++) {
        const v = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / classes))];
        if (!out.length || v > out[out.length - 1]) out.push(v);
    }
    return out.filter(v => v > sorted[0]);
}

// a MapLibre `step` expression over `prop` with the breaks, and the legend rows that go with it
export function ramp(prop, cuts, colours = RAMP, format = v => String(v)) {
    const used = colours.slice(0, cuts.length + 1);
    const expression = cuts.length ? ['step', ['to-number', ['get', prop]], used[0],
        ...cuts.flatMap((c, i) => [c, used[i + 1]])] : used[0];
    const legend = used.map((colour, i) => ({
        color: colour,
        label: cuts.length === 0 ? '全部' : i === 0 ? `< ${format(cuts[0])}`
            : i === cuts.length ? `≥ ${format(cuts[i - 1])}` : `${format(cuts[i - 1])} – ${format(cuts[i])}`,
    }));
    return {expression, legend};
}
