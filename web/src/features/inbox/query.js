// The 待办 list's request from its filters: one function for the page and for the early read that
// main.js sends before the page's code has arrived (pages.js `early`), so both ask the same URL.
export const PAGE = 50;

export const initialFilters = query => ({box: query.box ?? null, action: query.action ?? null, sla: null, q: '',
    order: 'deadline', page: 1});

export function inboxUrl(filters) {
    const params = new URLSearchParams({limit: String(PAGE), offset: String((filters.page - 1) * PAGE), order: filters.order});
    for (const key of ['box', 'action', 'sla', 'q']) if (filters[key]) params.set(key, filters[key]);
    return `/api/inbox?${params}`;
}
