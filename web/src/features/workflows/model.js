// 流程管理: pure helpers of the designer — the definition as a graph, the server's error paths mapped
// onto the form's places, edits that keep a definition consistent (renaming a state), and the tidy
// form of a definition that is sent and shown as YAML. No Vue here (unit-tested by vitest).

export const ANY_OPEN = '*';
// what the server's schema allows (cases/workflow.py SCHEMA); the server still checks everything
export const FIELD_TYPES = ['string', 'duration', 'datetime', 'department', 'case', 'integer', 'number'];
export const EFFECT_FIELDS = ['deadline_at', 'department_code', 'dispatched_at', 'duplicate_of', 'filed_at',
    'postpone_pending', 'rework_count', 'self_handled', 'supervise_count', 'urge_count'];
export const EFFECT_KINDS = {
    stamp: '记录时间', copy: '复制字段', inc: '计数加一', set: '设置字段', deadline: '按环节时限定办结时限',
    locate: '更新位置', extend_deadline: '按延期申请延长时限',
};
export const REQUIRE = {comment: '意见', photos: '照片'};

export function isClosed(def, code) {
    return Boolean(def?.states?.[code]?.closed);
}

export function openStates(def) {
    return Object.keys(def?.states ?? {}).filter(s => !isClosed(def, s));
}

export function sourcesOf(def, t) {
    if (t.from === ANY_OPEN) return openStates(def);
    return Array.isArray(t.from) ? t.from : [];
}

export function initialStates(def) {
    const init = def?.initial ?? {};
    return [...new Set([init.default, ...Object.values(init.by_channel ?? {})].filter(Boolean))];
}

// The diagram's graph: one node per state (transitions that stay in the state are listed on it),
// one edge per source of each transition that moves the case; edges to unknown states are left out
// (the validation names them).
export function graphOf(def, roleName = r => r) {
    const states = def?.states ?? {};
    const initials = new Set(initialStates(def));
    const nodes = Object.entries(states).map(([id, s]) => ({
        id, name: s?.name || id, closed: Boolean(s?.closed), initial: initials.has(id),
        limit: s?.time_limit?.default ?? null, limitRules: (s?.time_limit?.rules ?? []).length, stays: [],
    }));
    const byId = Object.fromEntries(nodes.map(n => [n.id, n]));
    const edges = [];
    (def?.transitions ?? []).forEach((t, index) => {
        const name = t.name || t.action;
        const roles = (t.roles ?? []).map(roleName);
        for (const from of sourcesOf(def, t)) {
            if (!byId[from]) continue;
            const to = t.to ?? null;
            if (to === null || to === from) {
                byId[from].stays.push({index, name, auto: Boolean(t.auto)});
            } else if (byId[to]) {
                edges.push({id: `${index}:${from}`, index, from, to, name, roles, auto: Boolean(t.auto)});
            }
        }
    });
    return {nodes, edges};
}

// "transitions[3].roles[0]" → ['transitions', 3, 'roles', 0]
export function parsePath(path) {
    const out = [];
    for (const m of String(path ?? '').matchAll(/\[(\d+)\]|\.?([^.[\]]+)/g)) out.push(m[1] !== undefined ? Number(m[1]) : m[2]);
    return out;
}

export function joinPath(parts) {
    return parts.reduce((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

// The place of the form that shows an error: the longest prefix of its path that the form has
// (an error at transitions[3].roles[0] shows on the transition's roles).
export function placeOf(path, places) {
    const parts = parsePath(path);
    for (let n = parts.length; n > 0; n--) {
        const p = joinPath(parts.slice(0, n));
        if (places.has(p)) return p;
    }
    return null;
}

// Error messages by the form's place; the ones no place shows under '_'
export function errorsByPlace(errors, places) {
    const out = {};
    for (const e of errors ?? []) {
        const place = placeOf(e.path, places) ?? '_';
        (out[place] ??= []).push(e.message);
    }
    return out;
}

// Every place the form shows for a definition (the keys errorsByPlace may use)
export function placesOf(def) {
    const places = new Set(['code', 'name', 'description', 'initial', 'initial.default', 'states', 'transitions']);
    for (const ch of Object.keys(def?.initial?.by_channel ?? {})) places.add(`initial.by_channel.${ch}`);
    for (const [code, s] of Object.entries(def?.states ?? {})) {
        for (const k of ['', '.name', '.closed', '.time_limit', '.time_limit.default']) places.add(`states.${code}${k}`);
        (s?.time_limit?.rules ?? []).forEach((_, i) => places.add(`states.${code}.time_limit.rules[${i}]`));
    }
    (def?.transitions ?? []).forEach((t, i) => {
        for (const k of ['', '.action', '.name', '.from', '.to', '.roles', '.require', '.min_photos', '.position', '.fields',
            '.guard', '.auto', '.effects']) places.add(`transitions[${i}]${k}`);
        (t.effects ?? []).forEach((_, k) => places.add(`transitions[${i}].effects[${k}]`));
        for (const f of Object.keys(t.fields ?? {})) places.add(`transitions[${i}].fields.${f}`);
    });
    return places;
}

// Rename a state and every reference to it (initial states, transitions' from and to), keeping the
// order of the states (the YAML reads in the order they were written).
export function renameState(def, from, to) {
    if (!to || from === to || !def.states?.[from] || def.states[to]) return false;
    def.states = Object.fromEntries(Object.entries(def.states).map(([k, v]) => [k === from ? to : k, v]));
    if (def.initial?.default === from) def.initial.default = to;
    for (const [ch, s] of Object.entries(def.initial?.by_channel ?? {})) if (s === from) def.initial.by_channel[ch] = to;
    for (const t of def.transitions ?? []) {
        if (Array.isArray(t.from)) t.from = t.from.map(s => (s === from ? to : s));
        if (t.to === from) t.to = to;
    }
    return true;
}

export function uniqueCode(existing, base) {
    let n = 1;
    while (existing.includes(`${base}${n}`)) n++;
    return `${base}${n}`;
}

// The definition as it is stored: empty optional parts left out (an empty guard or an empty list
// would be refused or mean something else), key order stable for the YAML view.
export function tidy(def) {
    const out = {};
    for (const k of ['code', 'name', 'description']) if (def[k] !== undefined && def[k] !== '') out[k] = def[k];
    const init = {default: def.initial?.default ?? ''};
    if (def.initial?.by_channel && Object.keys(def.initial.by_channel).length) init.by_channel = {...def.initial.by_channel};
    out.initial = init;
    if (def.intake) out.intake = def.intake;
    out.states = {};
    for (const code of flowOrder(def)) {
        const s = def.states[code];
        const state = {name: s?.name ?? ''};
        if (s?.closed) state.closed = true;
        const tl = s?.time_limit;
        if (tl && (tl.default || tl.rules?.length)) {
            state.time_limit = {};
            if (tl.default) state.time_limit.default = tl.default;
            if (tl.rules?.length) {
                state.time_limit.rules = tl.rules.map(r => Object.fromEntries(
                    ['category', 'urgency', 'limit'].filter(k => r[k] !== undefined && r[k] !== '' && r[k] !== null).map(k => [k, r[k]])));
            }
        }
        out.states[code] = state;
    }
    out.transitions = (def.transitions ?? []).map(t => {
        const o = {action: t.action};
        if (t.name) o.name = t.name;
        o.from = t.from;
        o.to = t.to ?? null;
        o.roles = t.roles ?? [];
        if (t.require?.length) o.require = t.require;
        if (t.min_photos) o.min_photos = t.min_photos;
        if (t.position) o.position = t.position;
        if (t.fields && Object.keys(t.fields).length) o.fields = t.fields;
        if (t.guard) o.guard = t.guard;
        if (t.auto) o.auto = true;
        if (t.effects?.length) o.effects = t.effects;
        return o;
    });
    for (const [k, v] of Object.entries(def)) if (!(k in out) && !['initial', 'states', 'transitions'].includes(k)) out[k] = v;
    return out;
}

// States in the order a case meets them (breadth first from the initial states, transitions in
// their order), the unreachable ones last as written: the server keeps no key order (jsonb).
export function flowOrder(def) {
    const states = Object.keys(def?.states ?? {});
    const seen = new Set(initialStates(def).filter(s => states.includes(s)));
    const queue = [...seen];
    while (queue.length) {
        const s = queue.shift();
        for (const t of def.transitions ?? []) {
            if (t.to && states.includes(t.to) && !seen.has(t.to) && sourcesOf(def, t).includes(s)) {
                seen.add(t.to);
                queue.push(t.to);
            }
        }
    }
    return [...seen, ...states.filter(s => !seen.has(s))];
}

// an effect's kind is its first key the schema knows
export function effectKind(effect) {
    return Object.keys(EFFECT_KINDS).find(k => k in (effect ?? {})) ?? null;
}

export function newEffect(kind) {
    switch (kind) {
    case 'stamp': return {stamp: 'filed_at'};
    case 'copy': return {copy: 'department_code', from: 'department_code'};
    case 'inc': return {inc: 'urge_count'};
    case 'set': return {set: 'postpone_pending', value: false};
    case 'deadline': return {deadline: 'step'};
    case 'locate': return {locate: true};
    default: return {extend_deadline: 'pending'};
    }
}
