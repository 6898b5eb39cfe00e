// Running the server's OGC API processes (heatmap, cluster, hotspots, area-evaluation, track) synchronously.
// Each asks for the raw result (OGC API - Processes 1.0 `response: raw`: the output's value with its media
// type, not the results document): JSON through the app's client; rasters (KDE PNG) as a Blob with the
// session's CSRF token.
import {api, ApiError, CSRF_HEADER} from '../../../api/client.js';

export function execute(processId, inputs, options = {}) {
    return api.post(`/ogc/processes/${processId}/execution`, {inputs, response: 'raw'}, options);
}

export async function executeBlob(processId, inputs) {
    const me = await api.get('/api/auth/me');
    const response = await fetch(`/ogc/processes/${processId}/execution`, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', [CSRF_HEADER]: me.csrf_token ?? ''},
        body: JSON.stringify({inputs, response: 'raw'}),
    });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null), response.url);
    return response.blob();
}

// an <input type=date> pair / date-range picker value → the processes' ISO instants (+08:00)
export function isoRange([start, end] = []) {
    const iso = d => (d ? `${toLocalDate(d)}T00:00:00+08:00` : undefined);
    const next = d => {
        if (!d) return undefined;
        const t = new Date(`${toLocalDate(d)}T00:00:00+08:00`);
        t.setUTCDate(t.getUTCDate() + 1);
        return `${toLocalDate(t)}T00:00:00+08:00`;
    };
    return {start: iso(start), end: next(end)};
}

// a Date or 'YYYY-MM-DD' → 'YYYY-MM-DD' in Beijing time
export function toLocalDate(d) {
    if (typeof d === 'string') return d.slice(0, 10);
    return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
