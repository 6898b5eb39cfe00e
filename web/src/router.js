// Pages other than the map are lazy routes (listed in pages.js): the map page does not ship the
// dashboards and forms of other areas.
import {createRouter, createWebHistory} from 'vue-router';

// the map page is the first page nearly always: in the entry chunk, no extra round trip
import MapPage from './features/map/MapPage.vue';
import {pages} from './pages.js';

const routes = [
    {path: '/', name: 'map', component: MapPage, meta: {title: '一张图'}},
    ...pages.map(p => ({path: p.path, name: p.name, component: p.component, meta: {title: p.title, bare: Boolean(p.bare)}})),
    {path: '/:rest(.*)*', name: 'not-found', component: () => import('./features/misc/NotFound.vue'),
        meta: {title: '页面不存在'}},
];

export const router = createRouter({history: createWebHistory(), routes});

router.afterEach(to => {
    document.title = `仁和镇综合执法指挥中心 · ${to.meta.title ?? '一张图'}`;
});
