// Feature popups (点击查看): Chinese field names and values through the labels store, falling back
// to the TileJSON field descriptions of the collection, then to the raw names.
import {Popup} from 'maplibre-gl';

const tileFields = {};     // collection → {property: description} from its TileJSON, fetched on first use

async function fieldsOf(collection) {
    if (!collection) return {};
    tileFields[collection] ??= fetch(`${location.origin}/ogc/collections/${collection}/tiles/WebMercatorQuad`)
        .then(r => (r.ok ? r.json() : null))
        .then(doc => Object.assign({}, ...(doc?.vector_layers ?? []).map(l => l.fields ?? {})))
        .catch(() => ({}));
    return tileFields[collection];
}

const escapeHtml = s => String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));

export async function popupContent(feature, group, labels) {
    const fallback = await fieldsOf(group.generic || !group.collection ? null : group.collection);
    const ctx = {
        fieldName: (collection, prop) => labels.fieldName(collection, prop, fallback),
        value: (collection, prop, value) => labels.value(collection, prop, value),
    };
    const {title, rows} = group.popup(feature, ctx);
    const body = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
    return `<h3>${escapeHtml(title)}</h3><table>${body}</table>`;
}

export function installPopups(map, groups, labels, clickable) {
    const groupOfLayer = new Map(groups.flatMap(g => (g.clickable ?? []).map(id => [id, g])));
    const onClick = async event => {
        if (map.__civicgridToolActive) return;     // a drawing tool owns the clicks
        const layers = clickable();
        if (!layers.length) return;
        const pad = 4;
        const box = [[event.point.x - pad, event.point.y - pad], [event.point.x + pad, event.point.y + pad]];
        const [feature] = map.queryRenderedFeatures(box, {layers});
        if (!feature) return;
        if (feature.properties.count && map.getZoom() < 15) {
            map.easeTo({center: event.lngLat, zoom: Math.min(map.getZoom() + 2, 16)});
            return;
        }
        const group = groupOfLayer.get(feature.layer.id);
        const html = await popupContent(feature, group, labels);
        new Popup({maxWidth: '320px'}).setLngLat(event.lngLat).setHTML(html).addTo(map);
    };
    map.on('click', onClick);
    for (const id of groupOfLayer.keys()) {
        map.on('mouseenter', id, () => { if (!map.__civicgridToolActive) map.getCanvas().style.cursor = 'pointer'; });
        map.on('mouseleave', id, () => { if (!map.__civicgridToolActive) map.getCanvas().style.cursor = ''; });
    }
}
