// Shared pieces of the layer-group modules. A group module is
//   {id, collection, title, folder, visible, sources(ctx), layers, legend, clickable, popup(feature, ctx)}
// `collection` gates the group: it is drawn only when /ogc/collections lists it for the caller (no
// refused tile requests), and the layer tree shows that collection's (Chinese) title. Each style
// layer names its drawing slot in metadata so groups stack the same way whatever their order.
export const FONT = ['WenQuanYi Micro Hei'];
export const LOCAL_FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

export const SLOTS = ['background', 'base', 'imagery', 'base-line', 'area', 'area-line', 'boundary', 'base-label',
    'point', 'overlay', 'label'];

export const slot = (name, layer) => ({...layer, metadata: {...layer.metadata, 'civicgrid:slot': name}});

export function ogcBase() {
    return `${location.origin}/ogc`;
}

// The OGC API Tiles template written out (rather than the TileJSON url) saves MapLibre one round
// trip per source before the first tile; `bounds` (the town's, set by the map page) keeps it from
// asking for empty tiles around the town.
export const tileOptions = {bounds: undefined};

export function tileSource(collection, {minzoom = 8, maxzoom = 22} = {}) {
    return {type: 'vector', tiles: [`${ogcBase()}/collections/${collection}/tiles/WebMercatorQuad/{z}/{y}/{x}`],
        minzoom, maxzoom, ...(tileOptions.bounds ? {bounds: tileOptions.bounds} : {})};
}

export const CLUSTER_RADIUS = ['interpolate', ['linear'], ['get', 'count'], 1, 4, 50, 9, 500, 15, 3000, 20];

// Popup rows: every property but the internal ones, named and valued through the labels store.
export function propertyRows(feature, ctx, collection, hidden = []) {
    const skip = new Set(['label', ...hidden]);
    return Object.entries(feature.properties ?? {})
        .filter(([key, value]) => !skip.has(key) && value !== null && value !== '')
        .map(([key, value]) => [ctx.fieldName(collection, key), ctx.value(collection, key, value)]);
}
