import {describe, expect, it} from 'vitest';

import {caseParams} from '../src/map/tools/analysis/caseParams.js';
import {buffer, combine, condition, intersects, kindOf, operatorsFor, toText} from '../src/map/tools/analysis/cql.js';
import {csvText} from '../src/map/tools/analysis/exporters.js';
import {timeWindows} from '../src/map/tools/analysis/legend.js';
import {bboxOf, breaks, ramp} from '../src/map/tools/analysis/overlay.js';
import {distance} from '../src/lib/geodesy.js';

describe('CQL2 JSON from the query builder', () => {
    it('types literals by the queryable', () => {
        expect(condition({property: 'count', op: '>=', value: '3', kind: 'integer'})).toEqual({op: '>=', args: [{property: 'count'}, 3]});
        expect(condition({property: 'name', op: 'like', value: '井盖'})).toEqual({op: 'like', args: [{property: 'name'}, '%井盖%']});
        expect(condition({property: 'is_closed', op: '=', value: 'false', kind: 'boolean'}).args[1]).toBe(false);
        expect(condition({property: 'channel', op: 'in', value: 'hotline, public'}).args[1]).toEqual(['hotline', 'public']);
        expect(condition({property: 'reported_at', op: '>', value: '2026-01-01T00:00:00+08:00', kind: 'date-time'}).args[1])
            .toEqual({timestamp: '2025-12-31T16:00:00.000Z'});
        expect(condition({property: 'address', op: 'isNull'})).toEqual({op: 'isNull', args: [{property: 'address'}]});
        expect(() => condition({property: 'count', op: '=', value: 'x', kind: 'integer'})).toThrow('不是数字');
        expect(kindOf({type: 'string', format: 'date-time'})).toBe('date-time');
        expect(operatorsFor('string').map(o => o.op)).toContain('like');
        expect(operatorsFor('integer').map(o => o.op)).not.toContain('like');
    });

    it('combines the area and the conditions', () => {
        const area = {type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]]};
        const a = condition({property: 'state', op: '=', value: 'filed'});
        expect(combine([intersects(area), null, a])).toEqual({op: 'and', args: [
            {op: 's_intersects', args: [{property: 'geometry'}, area]}, a]});
        expect(combine([null])).toBeNull();
        expect(toText(combine([intersects(area), a], 'or'))).toBe("(S_INTERSECTS(geometry, POLYGON(…))) OR (state = 'filed')");
    });

    it('buffers a point by a geodesic radius', () => {
        const ring = buffer([116.65, 40.13], 20).coordinates[0];
        expect(ring.length).toBe(65);
        for (const c of ring) expect(distance([116.65, 40.13], c)).toBeCloseTo(20, 0);
    });
});

describe('result helpers', () => {
    it('writes CSV Excel reads: BOM, quoted cells, CRLF', () => {
        const text = csvText([{properties: {a: '1,2', b: 'say "hi"'}}], [{key: 'a', title: '甲'}, {key: 'b', title: '乙'}],
            (f, k) => f.properties[k]);
        expect(text).toBe('\ufeff甲,乙\r\n"1,2","say ""hi"""\r\n');
    });

    it('classes values by quantiles and builds the legend', () => {
        const cuts = breaks([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50], 4);
        expect(cuts).toEqual([3, 6, 9]);
        const {expression, legend} = ramp('count', cuts);
        expect(expression.slice(0, 3)).toEqual(['step', ['to-number', ['get', 'count']], '#ffffb2']);
        expect(legend.map(l => l.label)).toEqual(['< 3', '3 – 6', '6 – 9', '≥ 9']);
        expect(breaks([])).toEqual([]);
        expect(bboxOf({type: 'LineString', coordinates: [[1, 2], [3, -1]]})).toEqual([1, -1, 3, 2]);
    });

    it('cuts a date range into time-slider windows', () => {
        const weeks = timeWindows('2026-03-01', '2026-03-20', 'week');
        expect(weeks.map(w => w.start.slice(0, 10))).toEqual(['2026-03-01', '2026-03-08', '2026-03-15']);
        expect(weeks.at(-1).end).toBe('2026-03-21T00:00:00+08:00');
        const months = timeWindows('2026-01-15', '2026-03-02', 'month');
        expect(months.map(m => [m.label, m.end.slice(0, 10)])).toEqual([['2026-01', '2026-02-01'], ['2026-02', '2026-03-01'],
            ['2026-03', '2026-03-03']]);
    });
});

describe('case query parameters', () => {
    it('leaves empty filters out and includes the end date', () => {
        const p = caseParams({dates: ['2026-03-01', '2026-03-31'], categories: ['01', '06010'], state: [], channel: ['hotline'],
            urgency: [], community: [], unit_grid: '110113104001001, 110113104001002', department: [], overdue: 'true', sla: [],
            is_closed: ''});
        expect(p.toString()).toBe('from=2026-03-01&to=2026-04-01&category=01%2C06010&channel=hotline'
            + '&unit_grid=110113104001001%2C110113104001002&overdue=true');
    });
});
