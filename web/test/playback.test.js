// The playback clock's maths: where the officer is at a time (interpolated within a segment, held
// at the last fix in a signal gap) and the fix-age wording of the officers list.
import {describe, expect, it} from 'vitest';

import {ageText} from '../src/map/officersData.js';
import {positionAt, prepare} from '../src/map/tools/playbackLayers.js';

const doc = {
    type: 'FeatureCollection',
    features: [
        {type: 'Feature', id: 'track', properties: {kind: 'track', times: [
            ['2026-11-20T00:00:00Z', '2026-11-20T00:10:00Z'], ['2026-11-20T01:00:00Z', '2026-11-20T01:10:00Z']]},
        geometry: {type: 'MultiLineString', coordinates: [[[116.0, 40.0], [116.01, 40.0]], [[116.02, 40.0], [116.02, 40.01]]]}},
        {type: 'Feature', id: 'stop-1', properties: {kind: 'stop', minutes: 8}, geometry: {type: 'Point', coordinates: [116.0, 40.0]}},
        {type: 'Feature', id: 'gap-1', properties: {kind: 'gap', minutes: 50},
            geometry: {type: 'LineString', coordinates: [[116.01, 40.0], [116.02, 40.0]]}},
    ],
};

describe('playback', () => {
    const p = prepare(doc);

    it('flattens the segments with their times', () => {
        expect(p.vertices.length).toBe(4);
        expect(p.start).toBe(Date.parse('2026-11-20T00:00:00Z'));
        expect(p.end).toBe(Date.parse('2026-11-20T01:10:00Z'));
        expect(p.stops.features.length).toBe(1);
        expect(p.gaps.features.length).toBe(1);
        expect(p.outside.features.length).toBe(0);
    });

    it('interpolates within a segment and holds in a gap', () => {
        const mid = positionAt(p.vertices, Date.parse('2026-11-20T00:05:00Z'));
        expect(mid.lon).toBeCloseTo(116.005, 6);
        expect(mid.inGap).toBe(false);
        const gap = positionAt(p.vertices, Date.parse('2026-11-20T00:30:00Z'));
        expect([gap.lon, gap.lat, gap.inGap]).toEqual([116.01, 40.0, true]);
        const after = positionAt(p.vertices, Date.parse('2026-11-20T02:00:00Z'));
        expect([after.lon, after.lat]).toEqual([116.02, 40.01]);
        expect(positionAt([], 0)).toBe(null);
    });

    it('says how old a fix is in Chinese', () => {
        expect(ageText(null)).toBe('无定位');
        expect(ageText(30)).toBe('刚刚');
        expect(ageText(600)).toBe('10 分钟前');
        expect(ageText(7200)).toBe('2 小时前');
        expect(ageText(3 * 86_400)).toBe('3 天前');
    });
});
