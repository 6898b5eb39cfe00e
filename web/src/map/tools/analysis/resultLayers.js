// The look of query results on the map: points, lines and areas in one colour, the hovered and the
// selected feature (feature-state) larger and orange.
import {Overlay} from './overlay.js';

const HOT = ['case', ['boolean', ['feature-state', 'selected'], false], '#ff7f0e',
    ['boolean', ['feature-state', 'hover'], false], '#ffbb33', '#d62728'];

export function resultOverlay(id, colour = '#d62728') {
    const hot = HOT.map(v => (v === '#d62728' ? colour : v));
    const big = ['case', ['any', ['boolean', ['feature-state', 'selected'], false],
        ['boolean', ['feature-state', 'hover'], false]], 9, 5.5];
    return new Overlay(id, [
        {id: `${id}-fill`, type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'],
            paint: {'fill-color': hot, 'fill-opacity': 0.25}},
        {id: `${id}-line`, type: 'line', filter: ['!=', ['geometry-type'], 'Point'],
            paint: {'line-color': hot, 'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 4, 2]}},
        {id: `${id}-point`, type: 'circle', filter: ['==', ['geometry-type'], 'Point'],
            paint: {'circle-color': hot, 'circle-radius': big, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5}},
    ]);
}

export const clickLayers = id => [`${id}-point`, `${id}-line`, `${id}-fill`];
