// The phone's position (navigator.geolocation), for the officer's forms: 上报 places the case with
// it, 核实/核查 send it with the action as where the officer stood. One reading at a time; the
// state says what the page shows (定位中 / ±N 米 / why not).
import {ref} from 'vue';

export function usePosition() {
    const position = ref(null);    // {lon, lat, accuracy_m}
    const status = ref('idle');    // idle | locating | ok | denied | unavailable
    function locate() {
        if (!navigator.geolocation) {
            status.value = 'unavailable';
            return Promise.resolve(null);
        }
        status.value = 'locating';
        return new Promise(resolve => {
            navigator.geolocation.getCurrentPosition(p => {
                position.value = {lon: Number(p.coords.longitude.toFixed(7)), lat: Number(p.coords.latitude.toFixed(7)),
                    accuracy_m: Math.round(p.coords.accuracy ?? 0)};
                status.value = 'ok';
                resolve(position.value);
            }, e => {
                status.value = e.code === 1 ? 'denied' : 'unavailable';
                resolve(null);
            }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
        });
    }
    return {position, status, locate};
}

export const POSITION_TEXT = {
    idle: '未获取位置', locating: '正在获取当前位置…', denied: '未获得定位权限，可在地图上点选',
    unavailable: '无法获取当前位置',
};
