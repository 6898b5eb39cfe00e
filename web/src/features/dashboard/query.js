// The dashboard's request: one function for the page and for the early read main.js sends before the
// page's code (ECharts included) has arrived (pages.js `early`), so both ask the same URL.
export const initialDay = query => (/^\d{4}-\d{2}-\d{2}$/.test(query.date ?? '') ? query.date : '');

export function dashboardUrl({day, days = 30, top = 10}) {
    const q = new URLSearchParams({days: String(days), top: String(top), ...(day ? {date: day} : {})});
    return `/api/dashboard?${q}`;
}
