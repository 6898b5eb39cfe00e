import {h} from 'vue';

import {beijingTime} from '../../lib/time.js';

// Remaining working time (the server counts it on the working calendar) as Chinese text.
export function workTime(seconds) {
    if (seconds === null || seconds === undefined) return '';
    const minutes = Math.round(Math.abs(seconds) / 60);
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    const span = h ? `${h} 小时${m ? ` ${m} 分` : ''}` : `${m} 分钟`;
    return seconds >= 0 ? `剩余 ${span}（工作时间）` : `已超时 ${span}（工作时间）`;
}

export const SLA_TAG = {red: 'danger', yellow: 'warning', green: 'success'};

// The SLA colour as a small tag in el-tag's look, without el-tag's component: lists draw one per row
// (props: color — red/yellow/green — and its label text)
export function SlaTag({color, text}) {
    return h('span', {class: ['el-tag', 'el-tag--small', 'el-tag--light', `el-tag--${SLA_TAG[color]}`]},
        h('span', {class: 'el-tag__content'}, text));
}
SlaTag.props = ['color', 'text'];

export const time = beijingTime;
