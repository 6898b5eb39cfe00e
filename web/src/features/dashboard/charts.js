// ECharts for the manage pages, only the parts they use (tree-shaken out of the map page's chunk).
import {BarChart, LineChart, PieChart} from 'echarts/charts';
import {GridComponent, LegendComponent, TooltipComponent} from 'echarts/components';
import * as echarts from 'echarts/core';
import {CanvasRenderer} from 'echarts/renderers';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export {echarts};

const FONT = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

// A bar chart of {name, n} rows: horizontal with the biggest on top, or vertical in the rows' order.
export function barOption(rows, color = '#3b7ddd', vertical = false) {
    if (vertical) {
        return {
            textStyle: {fontFamily: FONT},
            animation: false,
            grid: {left: 8, right: 8, top: 16, bottom: 6, containLabel: true},
            tooltip: {trigger: 'item'},
            xAxis: {type: 'category', data: rows.map(r => r.name), axisLabel: {interval: 0, width: 90, overflow: 'truncate', fontSize: 11}},
            yAxis: {type: 'value', splitLine: {lineStyle: {color: '#eef1f4'}}},
            series: [{type: 'bar', data: rows.map(r => r.n), itemStyle: {color}, barMaxWidth: 28, cursor: 'pointer',
                label: {show: true, position: 'top', fontSize: 11}}],
        };
    }
    const data = [...rows].reverse();
    return {
        textStyle: {fontFamily: FONT},
        animation: false,
        grid: {left: 8, right: 36, top: 6, bottom: 6, containLabel: true},
        tooltip: {trigger: 'item'},
        xAxis: {type: 'value', splitLine: {lineStyle: {color: '#eef1f4'}}},
        yAxis: {type: 'category', data: data.map(r => r.name), axisLabel: {width: 110, overflow: 'truncate'}},
        series: [{type: 'bar', data: data.map(r => r.n), itemStyle: {color}, barMaxWidth: 16, cursor: 'pointer',
            label: {show: true, position: 'right', fontSize: 11}}],
    };
}

export function pieOption(rows) {
    return {
        textStyle: {fontFamily: FONT},
        animation: false,
        tooltip: {trigger: 'item', formatter: '{b}：{c} 件（{d}%）'},
        legend: {bottom: 0, type: 'scroll', textStyle: {fontSize: 11}},
        series: [{type: 'pie', radius: ['38%', '68%'], center: ['50%', '44%'], cursor: 'pointer',
            data: rows.map(r => ({name: r.name, value: r.n})), label: {formatter: '{b}\n{c}', fontSize: 11}}],
    };
}

export function trendOption(rows) {
    return {
        textStyle: {fontFamily: FONT},
        animation: false,
        grid: {left: 8, right: 16, top: 30, bottom: 6, containLabel: true},
        tooltip: {trigger: 'axis'},
        legend: {top: 0, data: ['受理', '结案']},
        xAxis: {type: 'category', data: rows.map(r => r.day.slice(5)), boundaryGap: false},
        yAxis: {type: 'value', splitLine: {lineStyle: {color: '#eef1f4'}}},
        series: [
            {name: '受理', type: 'line', data: rows.map(r => r.intake), symbolSize: 6, cursor: 'pointer', itemStyle: {color: '#3b7ddd'}},
            {name: '结案', type: 'line', data: rows.map(r => r.closed), symbolSize: 6, cursor: 'pointer', itemStyle: {color: '#2f9e6b'}},
        ],
    };
}
