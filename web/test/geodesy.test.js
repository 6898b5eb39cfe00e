import {describe, expect, it} from 'vitest';

import {distance, lineLength, perimeter, polygonArea} from '../src/lib/geodesy.js';
import {formatArea, formatLength, MU_M2} from '../src/lib/units.js';

describe('geodesy on GRS80', () => {
    it('matches the reference geodesic (Flinders Peak – Buninyong, Vincenty 1975)', () => {
        // 54 972.271 m on the GRS80/WGS84 ellipsoid
        const d = distance([144.42486788888, -37.95103341666], [143.92649552777, -37.65282113888]);
        expect(d).toBeCloseTo(54972.271, 2);
    });
    it('measures a meridian degree and a parallel degree at 40°N', () => {
        // references: pyproj.Geod(ellps='GRS80') (GeographicLib)
        expect(distance([116, 40], [116, 41])).toBeCloseTo(111_044.261, 2);
        expect(distance([116, 40], [117, 40])).toBeCloseTo(85_393.409, 2);
    });
    it('adds up the segments of a line', () => {
        const line = [[116.6, 40.1], [116.61, 40.1], [116.61, 40.11]];
        expect(lineLength(line)).toBeCloseTo(distance(line[0], line[1]) + distance(line[1], line[2]), 6);
    });
    it('measures areas on the ellipsoid, holes subtracted, either orientation', () => {
        // one-degree cell 40–41°N with geodesic edges: 9 412 788 745.6 m² (pyproj)
        const cell = [[116, 40], [117, 40], [117, 41], [116, 41], [116, 40]];
        expect(polygonArea([cell]) / 9_412_788_745.6).toBeCloseTo(1, 5);
        expect(polygonArea([[...cell].reverse()])).toBeCloseTo(polygonArea([cell]), 0);
        const small = [[116.6, 40.1], [116.601, 40.1], [116.601, 40.101], [116.6, 40.101]];
        const hole = [[116.6002, 40.1002], [116.6004, 40.1002], [116.6004, 40.1004], [116.6002, 40.1004]];
        expect(polygonArea([small, hole])).toBeCloseTo(polygonArea([small]) - polygonArea([hole]), 3);
        expect(perimeter([small])).toBeCloseTo(lineLength([...small, small[0]]), 6);
    });
});

describe('units', () => {
    it('writes metres below a kilometre, kilometres above', () => {
        expect(formatLength(12.345)).toBe('12.35 米');
        expect(formatLength(1234.5)).toBe('1.235 千米（1,234.5 米）');
    });
    it('writes square metres and mu, square kilometres for large areas', () => {
        expect(MU_M2).toBeCloseTo(666.667, 3);
        expect(formatArea(666.6667)).toBe('666.7 平方米 · 1.00 亩');
        expect(formatArea(2_000_000)).toBe('2,000,000.0 平方米 · 3,000.00 亩 · 2.0000 平方千米');
    });
});

describe('arrow heads', async () => {
    const {arrowHead} = await import('../src/lib/arrow.js');
    it('points at the last node, sized from the last segment', () => {
        const head = arrowHead([[116.6, 40.1], [116.601, 40.1]]);
        const ring = head.coordinates[0];
        expect(ring[0]).toEqual([116.601, 40.1]);
        expect(ring.at(-1)).toEqual(ring[0]);
        // the base lies behind the tip, one quarter of the ~85 m segment back
        const backLon = (ring[1][0] + ring[2][0]) / 2;
        expect(distance([backLon, 40.1], [116.601, 40.1])).toBeCloseTo(85.2 * 0.25, 0);
        expect(arrowHead([[116.6, 40.1]])).toBeNull();
    });
});
