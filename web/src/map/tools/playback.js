// 轨迹回放 (track playback): an officer and a time range through the `track` process; the panel
// plays the track back (play / pause / speed / scrub) with direction arrows, stops, signal gaps
// and the stretches outside the officer's grid, and shows the totals. The layers live while the
// tool is active.
import {clearPlayback, installPlayback} from './playbackLayers.js';

export default {
    id: 'playback',
    title: '轨迹回放',
    icon: 'VideoPlay',
    panel: () => import('./PlaybackPanel.vue'),
    activate(map) {
        installPlayback(map);
        map.__civicgridPlayback = true;
    },
    deactivate() {
        clearPlayback();
    },
};
