// CQL2 JSON (OGC API Features Part 3) built from the query panel: the drawn area as S_INTERSECTS and
// the attribute builder's conditions. Pure functions, so they are unit-tested (web/test/cql.test.js).
import circle from '@turf/circle';

// operators the builder offers, by queryable type
export const OPERATORS = [
    {op: '=', label: '等于'}, {op: '<>', label: '不等于'},
    {op: '>', label: '大于', types: ['integer', 'number', 'date-time']},
    {op: '>=', label: '大于等于', types: ['integer', 'number', 'date-time']},
    {op: '<', label: '小于', types: ['integer', 'number', 'date-time']},
    {op: '<=', label: '小于等于', types: ['integer', 'number', 'date-time']},
    {op: 'like', label: '包含', types: ['string']},
    {op: 'in', label: '属于（多个值）'},
    {op: 'isNull', label: '为空'},
];

export function operatorsFor(type) {
    return OPERATORS.filter(o => !o.types || o.types.includes(type));
}

// a queryable's kind from its JSON schema: string, integer, number, boolean or date-time
export function kindOf(schema = {}) {
    if (schema.format === 'date-time' || schema.format === 'date') return 'date-time';
    return schema.type ?? 'string';
}

function literal(value, kind) {
    if (kind === 'integer' || kind === 'number') {
        const n = Number(value);
        if (value === '' || Number.isNaN(n)) throw new Error(`“${value}”不是数字`);
        return n;
    }
    if (kind === 'boolean') return value === true || value === 'true';
    if (kind === 'date-time') {
        const d = value instanceof Date ? value : new Date(value);
        if (Number.isNaN(d.getTime())) throw new Error(`“${value}”不是有效的时间`);
        return {timestamp: d.toISOString()};
    }
    return String(value);
}

// one builder row {property, op, value, kind} → a CQL2 JSON predicate
export function condition({property, op, value, kind = 'string'}) {
    const prop = {property};
    if (op === 'isNull') return {op: 'isNull', args: [prop]};
    if (op === 'in') {
        const values = (Array.isArray(value) ? value : String(value).split(/[,，\s]+/)).filter(v => v !== '');
        if (!values.length) throw new Error('“属于”需要至少一个值');
        return {op: 'in', args: [prop, values.map(v => literal(v, kind))]};
    }
    if (op === 'like') return {op: 'like', args: [prop, `%${value}%`]};
    return {op, args: [prop, literal(value, kind)]};
}

export function intersects(geometry) {
    return {op: 's_intersects', args: [{property: 'geometry'}, geometry]};
}

// a clicked point and a radius in metres → a geodesic circle polygon (the buffer of the point)
export function buffer(lngLat, metres, steps = 64) {
    return circle(lngLat, metres / 1000, {steps, units: 'kilometers'}).geometry;
}

export function combine(parts, join = 'and') {
    const list = parts.filter(Boolean);
    if (!list.length) return null;
    return list.length === 1 ? list[0] : {op: join, args: list};
}

// the CQL2 JSON as CQL2 text, for showing what is asked (geometries shortened)
export function toText(expr) {
    if (expr === null || expr === undefined) return '';
    if (typeof expr !== 'object') return typeof expr === 'string' ? `'${expr.replace(/'/g, "''")}'` : String(expr);
    if (Array.isArray(expr)) return `(${expr.map(toText).join(', ')})`;
    if ('property' in expr) return expr.property;
    if ('timestamp' in expr) return `TIMESTAMP('${expr.timestamp}')`;
    if ('type' in expr && 'coordinates' in expr) return `${expr.type.toUpperCase()}(…)`;
    const {op, args = []} = expr;
    if (op === 'and' || op === 'or') return args.map(a => `(${toText(a)})`).join(` ${op.toUpperCase()} `);
    if (op === 'not') return `NOT (${toText(args[0])})`;
    if (op === 'isNull') return `${toText(args[0])} IS NULL`;
    if (op === 'in') return `${toText(args[0])} IN ${toText(args[1])}`;
    if (op === 'like') return `${toText(args[0])} LIKE ${toText(args[1])}`;
    if (op.startsWith('s_')) return `${op.toUpperCase()}(${args.map(toText).join(', ')})`;
    return `${toText(args[0])} ${op} ${toText(args[1])}`;
}
