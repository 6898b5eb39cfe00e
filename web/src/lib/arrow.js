// The head of an arrow (标绘箭头) at the end of a line: a triangle sized from the last segment,
// in lon/lat (locally scaled, good for the few hundred metres a plotted arrow spans).
const M_PER_DEG_LAT = 111_320;

export function arrowHead(coordinates, {ratio = 0.25, minM = 8, maxM = 250} = {}) {
    if (!coordinates || coordinates.length < 2) return null;
    const [x1, y1] = coordinates.at(-2);
    const [x2, y2] = coordinates.at(-1);
    const kx = M_PER_DEG_LAT * Math.cos(y2 * Math.PI / 180);
    const dx = (x2 - x1) * kx, dy = (y2 - y1) * M_PER_DEG_LAT;
    const length = Math.hypot(dx, dy);
    if (length === 0) return null;
    const size = Math.min(maxM, Math.max(minM, length * ratio));
    const ux = dx / length, uy = dy / length;
    const back = [x2 - ux * size / kx, y2 - uy * size / M_PER_DEG_LAT];
    const half = size * 0.45;
    const left = [back[0] - uy * half / kx, back[1] + ux * half / M_PER_DEG_LAT];
    const right = [back[0] + uy * half / kx, back[1] - ux * half / M_PER_DEG_LAT];
    return {type: 'Polygon', coordinates: [[[x2, y2], left, right, [x2, y2]]]};
}
