// 搜索: the one search box of the top bar over /api/search (POI names, pinyin and initials,
// addresses, component IDs, case numbers, unit grids, communities).
import {defineAsyncComponent} from 'vue';

export default {
    id: 'search',
    title: '搜索',
    placement: 'topbar',
    component: defineAsyncComponent(() => import('./SearchBox.vue')),
};
