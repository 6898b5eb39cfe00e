// The alerts the page knows about, shared by the bell, the list and the map layer: loaded from
// /api/alerts, kept current by the event stream. `connect()` opens the stream once per page.
import {reactive} from 'vue';

import {api} from '../../api/client.js';
import {debugHandle} from '../instance.js';

export const alerts = reactive({open: [], stream: 'closed', minutes: null});
const listeners = new Set();
let source = null;

export async function loadOpen() {
    const doc = await api.get('/api/alerts?status=open&limit=500');
    alerts.open = doc.items;
    alerts.minutes = doc.minutes;
    return doc.items;
}

function apply(alert) {
    const rest = alerts.open.filter(a => a.id !== alert.id);
    alerts.open = alert.status === 'open' ? [alert, ...rest].sort((a, b) => b.id - a.id) : rest;
}

// fn({event, alert}) for every change the stream reports; returns the unsubscribe
export function onAlert(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
}

export function connect() {
    if (source) return;
    debugHandle().alerts = alerts;      // tests wait for the stream to be open
    source = new EventSource('/api/alerts/stream', {withCredentials: true});
    alerts.stream = 'connecting';
    // (re)connected: catch up on whatever happened while the stream was down
    source.addEventListener('ready', () => {
        alerts.stream = 'open';
        loadOpen().catch(() => {});
    });
    source.addEventListener('alert', message => {
        const note = JSON.parse(message.data);
        apply(note.alert);
        for (const fn of listeners) fn(note);
    });
    source.onerror = () => { alerts.stream = 'connecting'; };
}

export function disconnect() {
    source?.close();
    source = null;
    alerts.stream = 'closed';
}

export async function acknowledge(id, comment) {
    const alert = await api.post(`/api/alerts/${id}/ack`, comment ? {comment} : {});
    apply(alert);
    return alert;
}

export function asGeoJSON(list) {
    return {type: 'FeatureCollection', features: list.map(a => ({
        type: 'Feature', id: a.id, geometry: {type: 'Point', coordinates: [a.lon, a.lat]},
        properties: {id: a.id, officer_name: a.officer_name, minutes: a.minutes, acknowledged: a.acknowledged},
    }))};
}
