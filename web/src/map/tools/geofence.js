// 电子围栏告警 (geofence alerts): lives in the top bar while the map is open, for the callers the
// server gives the tool: a bell with the number of open, unacknowledged alerts; new alerts arrive
// over Server-Sent Events (/api/alerts/stream) and pop up as notifications without a reload; the
// bell opens the list with history and acknowledgement (GeofencePanel.vue). Open alerts are drawn
// on the map where the officer was last seen outside his grid.
import {defineAsyncComponent, markRaw} from 'vue';

export default {
    id: 'geofence',
    title: '电子围栏告警',
    icon: 'Bell',
    placement: 'topbar',
    component: markRaw(defineAsyncComponent(() => import('./GeofenceBell.vue'))),
    activate() {},
    deactivate() {},
};
