// The case query's form as GET /api/cases parameters (cases/query.py); pure, unit-tested.
// the filters as /api/cases query parameters (empty ones left out)
export function caseParams(f) {
    const p = new URLSearchParams();
    const list = (name, values) => { if (values?.length) p.set(name, values.join(',')); };
    if (f.dates?.[0]) p.set('from', f.dates[0]);
    if (f.dates?.[1]) {
        const end = new Date(`${f.dates[1]}T00:00:00+08:00`);
        end.setUTCDate(end.getUTCDate() + 1);          // the end date is included: up to the next midnight
        p.set('to', new Date(end.getTime() + 8 * 3600_000).toISOString().slice(0, 10));
    }
    list('category', f.categories);
    list('state', f.state);
    list('channel', f.channel);
    list('urgency', f.urgency);
    list('community', f.community);
    list('unit_grid', String(f.unit_grid ?? '').split(/[,，\s]+/).filter(Boolean));
    list('department', f.department);
    list('sla', f.sla);
    if (f.overdue) p.set('overdue', f.overdue);
    if (f.is_closed) p.set('is_closed', f.is_closed);
    return p;
}

