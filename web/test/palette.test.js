import {describe, expect, it} from 'vitest';

import cases from '../src/map/layers/cases.js';
import communities from '../src/map/layers/communities.js';
import components from '../src/map/layers/components.js';
import PALETTE from '../src/map/layers/palette.json';
import pois from '../src/map/layers/pois.js';
import town from '../src/map/layers/town.js';
import unitGrids from '../src/map/layers/unitGrids.js';

// palette.json is the one source of the map's colours; geoserver/sld.py makes the GeoServer styles from it
const paint = (group, id) => group.layers.find(l => l.id === id).paint;

describe('the map draws with the palette the GeoServer styles come from', () => {
    it('colours points by class, with the palette\'s default for the rest', () => {
        const match = paint(cases, 'cases-point')['circle-color'];
        expect(match.slice(2)).toEqual([...PALETTE.cases.classes.flatMap(c => [c.value, c.fill]), PALETTE.cases.fill]);
        expect(cases.legend.map(l => l.color)).toEqual([...PALETTE.cases.classes.map(c => c.fill), PALETTE.cases.fill]);
        const major = paint(components, 'components-point')['circle-color'];
        expect(major.slice(2)).toEqual([...PALETTE['urban-components'].classes.flatMap(c => [c.value, c.fill]),
            PALETTE['urban-components'].fill]);
        expect(paint(pois, 'pois-point')['circle-color']).toBe(PALETTE.pois.fill);
    });

    it('draws lines and areas with the palette\'s colour, width, opacity and dashes', () => {
        expect(paint(town, 'town-line')).toEqual({'line-color': PALETTE['town-boundary'].stroke,
            'line-width': PALETTE['town-boundary'].strokeWidth, 'line-opacity': PALETTE['town-boundary'].strokeOpacity});
        expect(paint(communities, 'community-line')['line-dasharray']).toEqual(PALETTE.communities.dash);
        expect(paint(unitGrids, 'unit-grids-fill')).toEqual({'fill-color': PALETTE['unit-grids'].fill,
            'fill-opacity': PALETTE['unit-grids'].fillOpacity});
    });
});
