import {describe, expect, it} from 'vitest';

import {around, duplicateQuery, nearest, reportBody} from '../src/features/intake/intake.js';

const form = {urgency: 'urgent', category_code: '06010', lon: 116.6, lat: 40.1, address: '', description: '垃圾',
    photos: [], component_id: '11011301001000001', camera_code: 'CAM-1', snapshot: ['a'.repeat(64)],
    reporter_name: '', reporter_phone: '13912345678', external_id: 'T-1'};

describe('the intake form', () => {
    it('sends only what the channel uses', () => {
        expect(reportBody('patrol', form)).toEqual({channel: 'patrol', urgency: 'urgent', category_code: '06010',
            lon: 116.6, lat: 40.1, description: '垃圾'});
        expect(reportBody('component', form)).toEqual({channel: 'component', urgency: 'urgent', description: '垃圾',
            component_id: '11011301001000001', reporter_phone: '13912345678'});
        expect(reportBody('video', form)).toEqual({channel: 'video', urgency: 'urgent', description: '垃圾',
            category_code: '06010', camera_code: 'CAM-1', snapshot: ['a'.repeat(64)]});
        expect(reportBody('hotline', {...form, lon: null, lat: null, address: '仁和镇政府'})).toEqual({channel: 'hotline',
            urgency: 'urgent', description: '垃圾', category_code: '06010', address: '仁和镇政府',
            reporter_phone: '13912345678', external_id: 'T-1'});
    });
    it('asks for duplicates once the report has a what and a where', () => {
        expect(duplicateQuery('patrol', form)).toBe('category_code=06010&lon=116.6&lat=40.1');
        expect(duplicateQuery('patrol', {...form, lon: null, lat: null})).toBeNull();
        expect(duplicateQuery('hotline', {...form, category_code: null, lon: null, address: '仁和镇政府'})).toBe('address=%E4%BB%81%E5%92%8C%E9%95%87%E6%94%BF%E5%BA%9C');
        expect(duplicateQuery('hotline', {...form, lon: null, address: '仁'})).toBeNull();
        expect(duplicateQuery('component', form)).toBe('component_id=11011301001000001');
    });
    it('finds the component nearest to a click', () => {
        const features = [{id: 'a', geometry: {type: 'Point', coordinates: [116.6002, 40.1]}},
            {id: 'b', geometry: {type: 'LineString', coordinates: [[116.61, 40.1], [116.6000, 40.1001]]}}];
        const hit = nearest(features, [116.6, 40.1]);
        expect(hit.feature.id).toBe('b');
        expect(hit.distance).toBeGreaterThan(10);
        expect(hit.distance).toBeLessThan(12);
        expect(nearest([], [116.6, 40.1])).toBeNull();
        const [x0, y0, x1, y1] = around([116.6, 40.1], 20);
        expect(x1 - x0).toBeGreaterThan(y1 - y0);
    });
});
