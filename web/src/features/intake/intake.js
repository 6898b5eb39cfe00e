// The intake page's pure parts (tested in web/test/intake.test.js): what each channel asks for, the
// request body of a report, the component nearest to a map click.
import {distance} from '../../lib/geodesy.js';

// What the form shows per channel (the channels themselves, their names and who may use them come
// from the server: /api/labels `channels`, /api/auth/me `cases.intake.<channel>`). A channel not
// listed here gets the plain form: place, category, description, photos.
export const CHANNEL_FORMS = {
    patrol: {place: 'point', contact: false},
    public: {place: 'point', contact: true},
    hotline: {place: 'address', contact: true, external: '12345 工单编号'},
    component: {place: 'component', contact: true},
    video: {place: 'camera', contact: false, snapshot: true},
    district: {readOnly: true},
};
export const formOf = channel => ({place: 'point', contact: true, ...CHANNEL_FORMS[channel]});

const set = v => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && !v.length);

// POST /api/cases body from the form: only what the channel uses, nothing empty
export function reportBody(channel, form) {
    const spec = formOf(channel);
    const body = {channel, urgency: form.urgency || 'normal'};
    const copy = keys => { for (const k of keys) if (set(form[k])) body[k] = form[k]; };
    copy(['description', 'photos']);
    if (spec.place === 'component') copy(['component_id']);
    else copy(['category_code']);
    if (spec.place === 'camera') copy(['camera_code']);
    if (spec.snapshot) copy(['snapshot']);
    if (['point', 'address'].includes(spec.place) && set(form.lon)) Object.assign(body, {lon: form.lon, lat: form.lat});
    if (spec.place !== 'camera') copy(['address']);
    if (spec.contact) copy(['reporter_name', 'reporter_phone']);
    if (spec.external) copy(['external_id']);
    return body;
}

// GET /api/cases/duplicates parameters (the suggestions, and where the intake would place the
// report: asked with a place alone too), or null while the report has no place
export function duplicateQuery(channel, form) {
    const body = reportBody(channel, form);
    const params = {};
    for (const k of ['category_code', 'component_id', 'camera_code', 'lon', 'lat', 'address']) if (set(body[k])) params[k] = String(body[k]);
    if (params.address && params.address.length < 2) delete params.address;
    if (!params.lon && !params.component_id && !params.camera_code && !params.address) return null;
    return new URLSearchParams(params).toString();
}

function* points(geometry) {
    const walk = c => (typeof c[0] === 'number' ? [c] : c.flatMap(walk));
    if (geometry?.coordinates) yield* walk(geometry.coordinates);
}

// the feature with a vertex nearest to [lon, lat], with its distance in metres (or null)
export function nearest(features, lonLat) {
    let best = null;
    for (const f of features) {
        for (const p of points(f.geometry)) {
            const d = distance(lonLat, p);
            if (!best || d < best.distance) best = {feature: f, distance: d};
        }
    }
    return best;
}

// a bbox of about `metres` around a point (for the components near a click)
export function around([lon, lat], metres) {
    const dLat = metres / 111_320;
    const dLon = metres / (111_320 * Math.cos(lat * Math.PI / 180));
    return [lon - dLon, lat - dLat, lon + dLon, lat + dLat].map(v => Number(v.toFixed(7)));
}
