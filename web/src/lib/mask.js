// A phone number as staff see it on screen: 139****5678 (the full number stays in the record).
export function maskPhone(phone) {
    if (!phone) return '';
    return phone.length > 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}
