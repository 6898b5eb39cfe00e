// Every page is a lazy route (the others are listed in pages.js): the map page does not ship the
// dashboards and forms of other areas, and the other pages do not wait for MapLibre (1 MB) to be
// fetched and compiled. The router asks for the first page's chunk as soon as the entry runs.
import {createRouter, createWebHistory} from 'vue-router';

import {pages} from './pages.js';

const routes = [
    {path: '/', name: 'map', component: () => import('./features/map/MapPage.vue'), meta: {title: '一张图'}},
    ...pages.map(p => ({path: p.path, name: p.name, component: p.component, meta: {title: p.title, bare: Boolean(p.bare)}})),
    {path: '/:rest(.*)*', name: 'not-found', component: () => import('./features/misc/NotFound.vue'),
        meta: {title: '页面不存在'}},
];

export const router = createRouter({history: createWebHistory(), routes});

router.afterEach(to => {
    document.title = `仁和镇综合执法指挥中心 · ${to.meta.title ?? '一张图'}`;
});
