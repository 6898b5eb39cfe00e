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

export const time = v => (v ? new Date(v).toLocaleString('zh-CN', {hour12: false, timeZone: 'Asia/Shanghai'}) : '');
