// Chinese names of every code shown to users (states, channels, urgency, SLA colours, booleans,
// roles, departments, collection fields and values), served by /api/labels. A missing label shows
// the raw code rather than nothing.
import {defineStore} from 'pinia';
import {markRaw} from 'vue';

import {getOnce} from '../lib/early.js';

let loading = null;

export const useLabels = defineStore('labels', {
    state: () => ({data: {}, loaded: false}),
    actions: {
        load() {
            loading ??= getOnce('/api/labels').then(data => {
                // replaced whole, never changed in place: lists look up hundreds of labels per render,
                // each through a reactive proxy otherwise
                this.data = markRaw(data ?? {});
            }).catch(() => {
                this.data = {};
            }).finally(() => {
                this.loaded = true;
            });
            return loading;
        },
        label(kind, code) {
            if (code === null || code === undefined) return '';
            const name = this.data[kind]?.[String(code)];
            return name ?? String(code);
        },
        collectionTitle(collection, fallback) {
            return this.data.collections?.[collection]?.title ?? fallback ?? collection;
        },
        // field name: the API's label, else the TileJSON field description, else the raw name
        fieldName(collection, prop, fallbackNames = {}) {
            return this.data.collections?.[collection]?.fields?.[prop] ?? fallbackNames[prop] ?? prop;
        },
        value(collection, prop, value) {
            if (value === null || value === undefined || value === '') return '';
            const named = this.data.collections?.[collection]?.values?.[prop]?.[String(value)];
            if (named !== undefined) return named;
            if (typeof value === 'boolean' || value === 'true' || value === 'false') {
                return this.data.booleans?.[String(value)] ?? String(value);
            }
            return typeof value === 'object' ? JSON.stringify(value) : String(value);
        },
    },
});
