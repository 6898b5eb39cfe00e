// The parts of ECharts the evaluation page draws with (bar and line charts), registered once; the
// page loads this module on first use, so the map page never carries ECharts.
import {BarChart, LineChart} from 'echarts/charts';
import {GridComponent, LegendComponent, TitleComponent, TooltipComponent} from 'echarts/components';
import {init as echartsInit, use} from 'echarts/core';
import {CanvasRenderer} from 'echarts/renderers';

use([BarChart, LineChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

export const init = el => echartsInit(el, null, {renderer: 'canvas'});
