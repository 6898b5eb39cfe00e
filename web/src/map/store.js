// What the layer tree and the basemap switch show: the groups the caller may see, each with its
// visibility and opacity, and the basemap in use. Actions change the map and the state together.
import {defineStore} from 'pinia';

import {getMap} from './map.js';
import {setBasemap, setGroupOpacity, setGroupVisible} from './style.js';

export const useMapLayers = defineStore('mapLayers', {
    state: () => ({groups: [], basemap: 'vector', ready: false}),
    actions: {
        init(groups, titles) {
            this.modules = groups;
            this.groups = groups.filter(g => !g.basemap).map(g => ({
                id: g.id, title: titles[g.collection] ?? g.title, folder: g.folder ?? '其他图层',
                visible: Boolean(g.visible), opacity: 1, legend: g.legend ?? [],
            }));
        },
        module(id) {
            return (this.modules ?? []).find(g => g.id === id);
        },
        setVisible(id, visible) {
            const entry = this.groups.find(g => g.id === id);
            if (!entry) return;
            entry.visible = visible;
            const map = getMap();
            if (map) setGroupVisible(map, this.module(id), visible);
        },
        setOpacity(id, opacity) {
            const entry = this.groups.find(g => g.id === id);
            if (!entry) return;
            entry.opacity = opacity;
            const map = getMap();
            if (map) setGroupOpacity(map, this.module(id), opacity);
        },
        setBasemap(kind) {
            this.basemap = kind;
            const map = getMap();
            if (map) setBasemap(map, kind, this.modules ?? []);
        },
    },
});
