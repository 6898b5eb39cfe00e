// 编辑 — the pure parts (unit-tested in web/test/edit.test.js): the attribute form built from a
// collection's queryables (JSON Schema: type, format, enum, readOnly, required), what a save sends
// (only the fields that changed), the fields two versions differ in (the conflict view, the
// history), the geometry terra-draw can edit, and snapping to the nearest vertex of what is drawn.

// collections the tool edits, with the widgets their fields get beyond what the schema says
export const EDITABLE = {
    'urban-components': {title: '城市部件', draw: 'byClass', classField: 'type_code', deptField: 'dept_code',
        deptNameField: 'dept_name', idField: 'id', clickable: ['components-point']},
    pois: {title: '兴趣点', draw: 'point', clickable: ['pois-point']},
    'unit-grids': {title: '单元网格', draw: 'polygon', idField: 'code', areas: true},
    'responsibility-grids': {title: '责任网格', draw: null, idField: 'code', areas: true},
};
const BOOKKEEPING = new Set(['version', 'updated_at', 'updated_by', 'area_m2', 'geometry']);
const LIST_FIELDS = new Set(['alias', 'unit_grid_codes']);

// → [{name, title, kind, required, options}] in the schema's order; kind is one of
// class, department, enum, date, integer, number, list, json, text
export function formFields(schema, collection) {
    const spec = EDITABLE[collection] ?? {};
    const required = new Set(schema?.required ?? []);
    const out = [];
    for (const [name, p] of Object.entries(schema?.properties ?? {})) {
        if (BOOKKEEPING.has(name) || p.readOnly || p.format?.startsWith('geometry')) continue;
        let kind = 'text';
        if (name === spec.classField) kind = 'class';
        else if (name === spec.deptField) kind = 'department';
        else if (Array.isArray(p.enum)) kind = 'enum';
        else if (p.format === 'date') kind = 'date';
        else if (LIST_FIELDS.has(name) || p.type === 'array') kind = 'list';
        else if (p.type === 'object') kind = 'json';
        else if (p.type === 'integer' || p.type === 'number') kind = p.type;
        out.push({name, title: p.title ?? name, kind, required: required.has(name), options: p.enum ?? null});
    }
    return out;
}

// a property value as the form holds it (lists and objects as text)
export function toForm(field, value) {
    if (value === null || value === undefined) return field.kind === 'list' ? '' : null;
    if (field.kind === 'list') return (Array.isArray(value) ? value : String(value).split(',')).join(', ');
    if (field.kind === 'json') return typeof value === 'string' ? value : JSON.stringify(value);
    return value;
}

// the form's value as the server takes it
export function fromForm(field, value) {
    if (field.kind === 'list') return String(value ?? '').split(/[,，\s]+/).filter(Boolean);
    if (value === '' || value === undefined) return null;
    if (field.kind === 'json') {
        if (value === null) return {};
        try {
            return JSON.parse(value);
        } catch {
            return value;       // the server names the field
        }
    }
    if ((field.kind === 'integer' || field.kind === 'number') && value !== null) {
        const n = Number(value);
        return Number.isNaN(n) ? value : n;
    }
    return value;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

// the properties a PATCH sends: those whose value differs from what was loaded
export function patchOf(fields, original, form) {
    const out = {};
    for (const f of fields) {
        const now = fromForm(f, form[f.name]);
        const before = fromForm(f, toForm(f, original[f.name]));
        if (!same(now, before)) out[f.name] = now;
    }
    return out;
}

// the fields in which two versions of a feature's properties differ → [{name, before, after}]
export function differences(before, after, skip = BOOKKEEPING) {
    const names = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
    return names.filter(n => !skip.has(n) && !same(before?.[n], after?.[n]))
        .map(n => ({name: n, before: before?.[n] ?? null, after: after?.[n] ?? null}));
}

// the geometry as terra-draw can edit it (a single point, line or polygon; a multi-geometry of one
// part becomes that part) → {geometry, mode, multi} or null (several parts: attributes only)
export function editableGeometry(geometry) {
    if (!geometry) return null;
    const single = {Point: 'point', LineString: 'linestring', Polygon: 'polygon'};
    if (single[geometry.type]) return {geometry, mode: single[geometry.type], multi: false};
    const multi = {MultiPoint: 'Point', MultiLineString: 'LineString', MultiPolygon: 'Polygon'}[geometry.type];
    if (multi && geometry.coordinates.length === 1) {
        const part = {type: multi, coordinates: geometry.coordinates[0]};
        return {geometry: part, mode: single[multi], multi: true};
    }
    return null;
}

// the geometry to send back: a multi-geometry again when it was one
export function savedGeometry(geometry, multi) {
    if (!multi || !geometry) return geometry;
    return {type: `Multi${geometry.type}`, coordinates: [geometry.coordinates]};
}

// every vertex of a GeoJSON geometry
export function vertices(geometry) {
    const out = [];
    const visit = c => {
        if (typeof c[0] === 'number') out.push(c);
        else c.forEach(visit);
    };
    if (geometry?.coordinates) visit(geometry.coordinates);
    return out;
}

// the vertex nearest to the screen point `at` among `candidates` (lon/lat), within `tolerance`
// pixels; `project` maps lon/lat to screen pixels → [lon, lat] or undefined
export function nearestVertex(at, candidates, project, tolerance = 10) {
    let best, bestD = tolerance * tolerance;
    for (const c of candidates) {
        const p = project(c);
        const d = (p.x - at.x) ** 2 + (p.y - at.y) ** 2;
        if (d <= bestD) {
            best = c;
            bestD = d;
        }
    }
    return best ? [best[0], best[1]] : undefined;
}

// the geometry kind a component class is drawn as (the catalog's point/line/polygon) → terra-draw mode
export function modeOfKind(kind) {
    return {point: 'point', line: 'linestring', polygon: 'polygon'}[kind] ?? 'point';
}
