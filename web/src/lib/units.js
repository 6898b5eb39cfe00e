// Lengths and areas as the town writes them: 米/千米, 平方米/亩/平方千米 (1 亩 = 10000/15 m²).
export const MU_M2 = 10000 / 15;

const number = (value, digits) => value.toLocaleString('zh-CN', {minimumFractionDigits: digits, maximumFractionDigits: digits});

export function formatLength(metres) {
    if (!Number.isFinite(metres)) return '';
    if (metres < 1000) return `${number(metres, 2)} 米`;
    return `${number(metres / 1000, 3)} 千米（${number(metres, 1)} 米）`;
}

export function formatArea(m2) {
    if (!Number.isFinite(m2)) return '';
    const parts = [`${number(m2, m2 < 100 ? 2 : 1)} 平方米`, `${number(m2 / MU_M2, 2)} 亩`];
    if (m2 >= 100_000) parts.push(`${number(m2 / 1e6, 4)} 平方千米`);
    return parts.join(' · ');
}
