// The live officers (/api/officers): one poller shared by the officers layer and the officers
// panel, so both show the same fixes. Subscribers get {items, counts, shift, at}.
import {api} from '../api/client.js';

export const REFRESH_MS = 30_000;

const listeners = new Set();
let timer = null;
let last = null;
let inflight = null;

export function ageText(seconds) {
    if (seconds === null || seconds === undefined) return '无定位';
    if (seconds < 60) return '刚刚';
    if (seconds < 3600) return `${Math.floor(seconds / 60)} 分钟前`;
    if (seconds < 86_400) return `${Math.floor(seconds / 3600)} 小时前`;
    return `${Math.floor(seconds / 86_400)} 天前`;
}

export async function refresh() {
    inflight ??= api.get('/api/officers').then(doc => {
        last = {...doc, at: Date.now()};
        for (const fn of listeners) fn(last);
        return last;
    }).finally(() => { inflight = null; });
    return inflight;
}

// returns the unsubscribe; the first subscriber starts the polling, the last one stops it
export function subscribe(fn) {
    listeners.add(fn);
    if (last) fn(last);
    if (!timer) {
        timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
        refresh().catch(() => {});
    }
    return () => {
        listeners.delete(fn);
        if (!listeners.size && timer) {
            clearInterval(timer);
            timer = null;
        }
    };
}

export function toGeoJSON(doc) {
    return {
        type: 'FeatureCollection',
        features: (doc?.items ?? []).filter(o => o.lon !== null && o.lat !== null).map(o => ({
            type: 'Feature', id: o.id,
            geometry: {type: 'Point', coordinates: [o.lon, o.lat]},
            properties: {
                officer_id: o.id, officer_code: o.code, officer_name: o.name, status: o.status,
                status_name: o.status_name, grids: o.grids.map(g => g.name).join('、'),
                last_fix: ageText(o.fix_age_s), alert: Boolean(o.open_alert_id),
            },
        })),
    };
}
