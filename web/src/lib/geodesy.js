// Lengths and areas on the CGCS2000 ellipsoid (GRS80 parameters), for the measure tool.
// Lengths: Vincenty's inverse formula (sub-millimetre on the town's scale). Areas: the polygon
// mapped to the authalic sphere (same surface area as the ellipsoid, latitudes → authalic
// latitudes), then the spherical excess of its edges — exact for areas up to the edge convention.
const A = 6378137.0;                 // semi-major axis (m)
const F = 1 / 298.257222101;         // GRS80 flattening (CGCS2000)
const B = A * (1 - F);
const E2 = F * (2 - F);
const E = Math.sqrt(E2);
const RAD = Math.PI / 180;

// geodesic distance in metres between [lon, lat] points
export function distance([lon1, lat1], [lon2, lat2]) {
    if (lon1 === lon2 && lat1 === lat2) return 0;
    const L = (lon2 - lon1) * RAD;
    const U1 = Math.atan((1 - F) * Math.tan(lat1 * RAD));
    const U2 = Math.atan((1 - F) * Math.tan(lat2 * RAD));
    const sinU1 = Math.sin(U1), cosU1 = Math.cos(U1), sinU2 = Math.sin(U2), cosU2 = Math.cos(U2);
    let lambda = L;
    let sinSigma, cosSigma, sigma, cos2Alpha, cos2SigmaM;
    for (let i = 0; i < 200; i++) {
        const sinLambda = Math.sin(lambda), cosLambda = Math.cos(lambda);
        sinSigma = Math.hypot(cosU2 * sinLambda, cosU1 * sinU2 - sinU1 * cosU2 * cosLambda);
        if (sinSigma === 0) return 0;
        cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda;
        sigma = Math.atan2(sinSigma, cosSigma);
        const sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma;
        cos2Alpha = 1 - sinAlpha * sinAlpha;
        cos2SigmaM = cos2Alpha !== 0 ? cosSigma - 2 * sinU1 * sinU2 / cos2Alpha : 0;
        const C = F / 16 * cos2Alpha * (4 + F * (4 - 3 * cos2Alpha));
        const previous = lambda;
        lambda = L + (1 - C) * F * sinAlpha * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM ** 2)));
        if (Math.abs(lambda - previous) < 1e-12) break;
    }
    const u2 = cos2Alpha * (A * A - B * B) / (B * B);
    const bigA = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
    const bigB = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
    const deltaSigma = bigB * sinSigma * (cos2SigmaM + bigB / 4 * (cosSigma * (-1 + 2 * cos2SigmaM ** 2)
        - bigB / 6 * cos2SigmaM * (-3 + 4 * sinSigma ** 2) * (-3 + 4 * cos2SigmaM ** 2)));
    return B * bigA * (sigma - deltaSigma);
}

// length in metres of a line [[lon, lat], ...]
export function lineLength(coordinates) {
    let total = 0;
    for (let i = 1; i < coordinates.length; i++) total += distance(coordinates[i - 1], coordinates[i]);
    return total;
}

const qOf = sinPhi => (1 - E2) * (sinPhi / (1 - E2 * sinPhi * sinPhi) - Math.log((1 - E * sinPhi) / (1 + E * sinPhi)) / (2 * E));
const QP = qOf(1);
const RQ = A * Math.sqrt(QP / 2);    // radius of the authalic sphere

function authalicLatitude(latDeg) {
    return Math.asin(qOf(Math.sin(latDeg * RAD)) / QP);
}

// area in square metres of one ring (closed or not), orientation ignored
function ringArea(ring) {
    const points = ring.length > 1 && ring[0][0] === ring.at(-1)[0] && ring[0][1] === ring.at(-1)[1] ? ring.slice(0, -1) : ring;
    if (points.length < 3) return 0;
    let sum = 0;
    for (let i = 0; i < points.length; i++) {
        const [lon1, lat1] = points[i];
        const [lon2, lat2] = points[(i + 1) % points.length];
        let dLon = (lon2 - lon1) * RAD;
        if (dLon > Math.PI) dLon -= 2 * Math.PI;
        if (dLon < -Math.PI) dLon += 2 * Math.PI;
        const b1 = authalicLatitude(lat1), b2 = authalicLatitude(lat2);
        // the spherical excess of the edge's trapezoid down to the equator
        sum += 2 * Math.atan2(Math.tan(dLon / 2) * (Math.tan(b1 / 2) + Math.tan(b2 / 2)),
            1 + Math.tan(b1 / 2) * Math.tan(b2 / 2));
    }
    return Math.abs(sum) * RQ * RQ;
}

// area in square metres of a polygon [outer, ...holes]
export function polygonArea(rings) {
    if (!rings.length) return 0;
    return Math.max(0, ringArea(rings[0]) - rings.slice(1).reduce((s, r) => s + ringArea(r), 0));
}

export function perimeter(rings) {
    if (!rings.length) return 0;
    const outer = rings[0];
    const closed = outer[0][0] === outer.at(-1)[0] && outer[0][1] === outer.at(-1)[1] ? outer : [...outer, outer[0]];
    return lineLength(closed);
}
