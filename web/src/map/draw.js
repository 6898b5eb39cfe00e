// terra-draw on the one map, for the tools that draw (测量, 标绘). Loaded on a tool's first use, so
// the map page's first load does not carry it. Drawn features stay editable in the select mode:
// drag the shape, drag a vertex, drag a midpoint to add one, delete a vertex with a right-click.
import {debugHandle} from './map.js';

const EDIT = {feature: {draggable: true, coordinates: {midpoints: true, draggable: true, deletable: true}}};
const DRAG_ONLY = {feature: {draggable: true}};

// modes: names among point, linestring, polygon, rectangle, circle; `styles(mode)` → terra-draw styles;
// `snapping`: terra-draw's snapping options for drawing lines and polygons and dragging their vertices
// (编辑 snaps to the features already on the map with `toCustom`)
export async function createDraw(map, modes, styles = () => ({}), {snapping} = {}) {
    const [td, {TerraDrawMapLibreGLAdapter}] = await Promise.all([
        import('terra-draw'), import('terra-draw-maplibre-gl-adapter')]);
    const make = {
        point: () => new td.TerraDrawPointMode({editable: true, styles: styles('point')}),
        linestring: () => new td.TerraDrawLineStringMode({editable: true, styles: styles('linestring'), snapping}),
        polygon: () => new td.TerraDrawPolygonMode({editable: true, styles: styles('polygon'), snapping}),
        rectangle: () => new td.TerraDrawRectangleMode({styles: styles('rectangle')}),
        circle: () => new td.TerraDrawCircleMode({styles: styles('circle')}),
    };
    const edit = snapping ? {feature: {...EDIT.feature, coordinates: {...EDIT.feature.coordinates, snappable: snapping}}} : EDIT;
    const flags = {point: DRAG_ONLY, linestring: edit, polygon: edit, rectangle: DRAG_ONLY, circle: DRAG_ONLY};
    const draw = new td.TerraDraw({
        adapter: new TerraDrawMapLibreGLAdapter({map, coordinatePrecision: 9, prefixId: 'td'}),
        modes: [
            ...modes.map(m => make[m]()),
            new td.TerraDrawSelectMode({
                flags: Object.fromEntries(modes.map(m => [m, flags[m]])),
                styles: styles('select'),
            }),
        ],
    });
    draw.start();
    map.__civicgridToolActive = true;      // the clicks draw; no popups meanwhile
    debugHandle().draw = draw;
    return draw;
}

export function stopDraw(map, draw) {
    if (draw) {
        try {
            draw.stop();
        } catch {
            // the map may be gone already (page left)
        }
    }
    if (map) {
        map.__civicgridToolActive = false;
        map.getCanvas().style.cursor = '';
    }
    if (debugHandle().draw === draw) delete debugHandle().draw;
}
