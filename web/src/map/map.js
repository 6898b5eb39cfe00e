// The one MapLibre instance of the app, created here. Pages and tools reach it through
// getMap()/onMapReady() (instance.js, re-exported); tests through window.__civicgrid. The worker
// script is a hashed asset of our build (MapLibre would otherwise look for it beside its own
// module, which the bundle does not keep).
import {addProtocol, Map as MapLibreMap, NavigationControl, ScaleControl, setWorkerUrl} from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import {Protocol} from 'pmtiles';

import {destroyMap, debugHandle, mapLoaded, setMap} from './instance.js';
import {LOCAL_FONTS} from './layers/common.js';

export {debugHandle, destroyMap, getMap, onMapReady} from './instance.js';

let protocolAdded = false;

export function createMap(container, {style, bounds, center = [116.65, 40.13], zoom = 12}) {
    destroyMap();
    setWorkerUrl(workerUrl);
    if (!protocolAdded) {
        addProtocol('pmtiles', new Protocol().tile);
        protocolAdded = true;
    }
    const timings = {start: performance.now()};
    const map = new MapLibreMap({
        container,
        style,
        ...(bounds ? {bounds, fitBoundsOptions: {padding: 24}} : {center, zoom}),
        maxZoom: 19,
        // labels appear at once: a fade keeps software-rendered maps repainting for no information
        fadeDuration: 0,
        localIdeographFontFamily: LOCAL_FONTS,
        attributionControl: {compact: true, customAttribution: '仁和镇综合执法指挥中心 · 底图与影像由本系统数据生成'},
        locale: MAP_LOCALE,
    });
    map.addControl(new NavigationControl({visualizePitch: false}), 'top-right');
    map.addControl(new ScaleControl({unit: 'metric'}), 'bottom-left');
    map.once('render', () => { timings.firstRender = performance.now(); });
    map.once('idle', () => { timings.firstIdle = performance.now(); });
    setMap(map);
    map.once('load', () => mapLoaded(map));
    Object.assign(debugHandle(), {map, timings});
    return map;
}

// Chinese tooltips of MapLibre's own controls
const MAP_LOCALE = {
    'AttributionControl.ToggleAttribution': '显示/隐藏版权信息',
    'AttributionControl.MapFeedback': '地图反馈',
    'FullscreenControl.Enter': '全屏',
    'FullscreenControl.Exit': '退出全屏',
    'GeolocateControl.FindMyLocation': '定位到我的位置',
    'GeolocateControl.LocationNotAvailable': '无法获取位置',
    'LogoControl.Title': 'MapLibre',
    'Map.Title': '地图',
    'Marker.Title': '标记',
    'NavigationControl.ResetBearing': '指北',
    'NavigationControl.ZoomIn': '放大',
    'NavigationControl.ZoomOut': '缩小',
    'Popup.Close': '关闭',
    'ScaleControl.Feet': '英尺',
    'ScaleControl.Meters': '米',
    'ScaleControl.Kilometers': '千米',
    'ScaleControl.Miles': '英里',
    'ScaleControl.NauticalMiles': '海里',
    'GlobeControl.Enable': '球面',
    'GlobeControl.Disable': '平面',
    'TerrainControl.Enable': '启用地形',
    'TerrainControl.Disable': '关闭地形',
    'CooperativeGesturesHandler.WindowsHelpText': '按住 Ctrl 键并滚动以缩放地图',
    'CooperativeGesturesHandler.MacHelpText': '按住 ⌘ 键并滚动以缩放地图',
    'CooperativeGesturesHandler.MobileHelpText': '用两根手指移动地图',
};
