// Downloads of query results: CSV (UTF-8 with a BOM so Excel reads the Chinese headers), GeoJSON
// (the features as fetched) and XLSX (write-excel-file, loaded only when someone asks for one).
// `columns` are [{key, title}] and `cell(feature, key)` gives the shown (Chinese) value.

export function csvText(features, columns, cell) {
    const quote = v => {
        const s = v === null || v === undefined ? '' : String(v);
        return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = [columns.map(c => quote(c.title)).join(',')];
    for (const f of features) lines.push(columns.map(c => quote(cell(f, c.key))).join(','));
    return `\ufeff${lines.join('\r\n')}\r\n`;
}

export function geojsonText(features) {
    return JSON.stringify({type: 'FeatureCollection', features: features.map(({type, id, geometry, properties}) => ({
        type: type ?? 'Feature', id, geometry, properties}))});
}

export function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function stamp() {
    return new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '');
}

export async function exportFeatures(format, features, columns, cell, baseName) {
    const name = `${baseName}-${stamp()}`;
    if (format === 'csv') {
        download(new Blob([csvText(features, columns, cell)], {type: 'text/csv;charset=utf-8'}), `${name}.csv`);
    } else if (format === 'geojson') {
        download(new Blob([geojsonText(features)], {type: 'application/geo+json'}), `${name}.geojson`);
    } else if (format === 'xlsx') {
        const {default: writeXlsxFile} = await import('write-excel-file/browser');
        const header = columns.map(c => ({value: c.title, fontWeight: 'bold'}));
        const rows = features.map(f => columns.map(c => {
            const v = cell(f, c.key);
            return typeof v === 'number' ? {type: Number, value: v} : {type: String, value: v === null || v === undefined ? '' : String(v)};
        }));
        const blob = await writeXlsxFile([header, ...rows], {sheet: '查询结果'}).toBlob();
        download(blob, `${name}.xlsx`);
    } else {
        throw new Error(`unknown export format ${format}`);
    }
}
