// 一张图 web app: Vue 3 + Pinia + vue-router; Element Plus components are imported where used
// (tree-shaken), its theme CSS once here.
import 'element-plus/dist/index.css';
import 'maplibre-gl/dist/maplibre-gl.css';
import './styles/app.css';

import {createPinia} from 'pinia';
import {createApp} from 'vue';

import App from './App.vue';
import {bootData} from './map/boot.js';
import {router} from './router.js';

// the map page is the usual first page: its data is on the way while the code starts
if (location.pathname === '/') bootData();

createApp(App).use(createPinia()).use(router).mount('#app');
