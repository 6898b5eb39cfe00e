// Grade colours (A green … E red) shared by the table, the bar chart and the choropleth; rates on
// the map go red (0 %) → amber → green (100 %), scores likewise over 0–100.
export const GRADE_COLOURS = {A: '#67c23a', B: '#95d475', C: '#e6a23c', D: '#f89898', E: '#f56c6c'};

export function pct(v) {
    return v === null || v === undefined ? '—' : `${(100 * v).toFixed(1)}%`;
}

export function rankArrow(change) {
    if (!change) return '';
    return change > 0 ? '↑' : '↓';
}

// a MapLibre paint expression for the areas' fill: by grade, or by score / rate on a ramp
export function fillExpression(by) {
    if (by === 'grade') {
        return ['match', ['get', 'grade'], ...Object.entries(GRADE_COLOURS).flat(), '#cccccc'];
    }
    const value = by === 'score' ? ['/', ['to-number', ['get', 'score'], 0], 100] : ['to-number', ['get', by], 1];
    return ['interpolate', ['linear'], value, 0, '#f56c6c', 0.5, '#e6a23c', 1, '#67c23a'];
}
