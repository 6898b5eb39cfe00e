// Times as the command center reads them: Beijing time (UTC+8, no daylight saving since 1991),
// 24-hour, in the zh-CN form '2026/12/4 09:05:00'. Formatted by hand: `toLocaleString` with a time
// zone builds an Intl.DateTimeFormat each call and the first one loads ICU's zone data — a list of 50
// rows spent 25–75 ms of its cold load on its dates.
const OFFSET_MS = 8 * 3600 * 1000;
const two = n => String(n).padStart(2, '0');

// an ISO text, a Date or epoch milliseconds → '2026/12/4 09:05:00'; nothing → `empty`
export function beijingTime(value, empty = '') {
    if (value === null || value === undefined || value === '') return empty;
    const ms = value instanceof Date ? value.getTime() : new Date(value).getTime();
    if (Number.isNaN(ms)) return empty;
    const d = new Date(ms + OFFSET_MS);
    return `${d.getUTCFullYear()}/${d.getUTCMonth() + 1}/${d.getUTCDate()} `
        + `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}
