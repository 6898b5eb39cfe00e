// Suggestions of the one search box (/api/search: POI names, pinyin and initials, addresses,
// component IDs, case numbers, unit grids, communities) for an el-autocomplete: a new query aborts
// the one still running.
import {api} from '../api/client.js';

export function searchSuggester(limit = 10) {
    let inflight = null;
    return async function suggest(query, done) {
        const q = query.trim();
        if (!q) {
            done([]);
            return;
        }
        inflight?.abort();
        inflight = new AbortController();
        try {
            const answer = await api.get(`/api/search?q=${encodeURIComponent(q)}&limit=${limit}`, {signal: inflight.signal});
            done(answer.items.map(item => ({...item, value: item.title})));
        } catch (error) {
            if (error.name !== 'AbortError') done([]);
        }
    };
}
