// Pages other than the map are lazy routes: the map page does not ship the dashboards and forms of other areas.
import {createRouter, createWebHistory} from 'vue-router';

// the map page is the first page nearly always: in the entry chunk, no extra round trip
import MapPage from './features/map/MapPage.vue';

const routes = [
    {path: '/', name: 'map', component: MapPage, meta: {title: '一张图'}},
    {path: '/login', name: 'login', component: () => import('./features/login/LoginPage.vue'),
        meta: {title: '登录', bare: true}},
    {path: '/cases/:id(\\d+)', name: 'case-detail', component: () => import('./features/cases/CaseDetailPage.vue'),
        meta: {title: '案件详情'}},
    {path: '/:rest(.*)*', name: 'not-found', component: () => import('./features/misc/NotFound.vue'),
        meta: {title: '页面不存在'}},
];

export const router = createRouter({history: createWebHistory(), routes});

router.afterEach(to => {
    document.title = `仁和镇综合执法指挥中心 · ${to.meta.title ?? '一张图'}`;
});
