// Shared bits of the analysis tools: the source filter as process inputs, and time windows for the
// time slider (days, weeks or months between two dates, in Beijing time).
import {isoRange, toLocalDate} from './processes.js';

export function sourceInputs(form, window = null) {
    const inputs = {source: form.source};
    const range = window ?? isoRange(form.dates ?? []);
    if (range.start) inputs.start = range.start;
    if (range.end) inputs.end = range.end;
    if (form.source !== 'positions' && form.category?.length) inputs.category = [...form.category];
    return inputs;
}

// [{label, start, end}] covering [from, to] (dates, to included) in steps of day | week | month
export function timeWindows(from, to, step = 'week') {
    if (!from || !to) return [];
    const out = [];
    let cursor = new Date(`${toLocalDate(from)}T00:00:00+08:00`);
    const stop = new Date(`${toLocalDate(to)}T00:00:00+08:00`);
    stop.setUTCDate(stop.getUTCDate() + 1);
    while (cursor < stop && out.length < 400) {
        const next = new Date(cursor);
        if (step === 'day') next.setUTCDate(next.getUTCDate() + 1);
        else if (step === 'week') next.setUTCDate(next.getUTCDate() + 7);
        else {
            const local = new Date(cursor.getTime() + 8 * 3600_000);
            next.setTime(Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1) - 8 * 3600_000);
        }
        const end = next < stop ? next : stop;
        const label = step === 'month' ? toLocalDate(cursor).slice(0, 7)
            : step === 'day' ? toLocalDate(cursor) : `${toLocalDate(cursor)} 起`;
        out.push({label, start: `${toLocalDate(cursor)}T00:00:00+08:00`, end: `${toLocalDate(end)}T00:00:00+08:00`});
        cursor = end;
    }
    return out;
}
