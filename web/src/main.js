// 一张图 web app: Vue 3 + Pinia + vue-router; Element Plus components are imported where used
// (tree-shaken), its theme CSS once here.
import './firstReads.js';   // first: the first page's reads leave before the rest is evaluated
import 'element-plus/dist/index.css';
import 'maplibre-gl/dist/maplibre-gl.css';
import './styles/app.css';

import {createPinia} from 'pinia';
import {createApp} from 'vue';

import App from './App.vue';
import {router} from './router.js';

createApp(App).use(createPinia()).use(router).mount('#app');
