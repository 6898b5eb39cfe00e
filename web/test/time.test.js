import {describe, expect, it} from 'vitest';

import {beijingTime} from '../src/lib/time.js';

describe('beijingTime', () => {
    it('matches what the browser writes for Asia/Shanghai', () => {
        for (const iso of ['2026-12-04T01:05:09Z', '2026-06-30T16:00:00Z', '2024-02-28T23:59:59.999Z', '2027-01-01T00:00:00+08:00']) {
            expect(beijingTime(iso)).toBe(new Date(iso).toLocaleString('zh-CN', {hour12: false, timeZone: 'Asia/Shanghai'}));
        }
    });
    it('takes dates and epoch milliseconds, and says nothing for nothing', () => {
        expect(beijingTime(new Date('2026-12-04T01:05:09Z'))).toBe('2026/12/4 09:05:09');
        expect(beijingTime(Date.UTC(2026, 11, 3, 16, 0, 0))).toBe('2026/12/4 00:00:00');
        expect(beijingTime(null)).toBe('');
        expect(beijingTime('', '—')).toBe('—');
        expect(beijingTime('not a time', '—')).toBe('—');
    });
});
