// Who I am and what I may do (当前用户): /api/auth/me gives the user, the CSRF token, and the tools
// and actions the server derives from security/access.yml. Nothing about roles is decided here.
import {defineStore} from 'pinia';

import {api, setCsrfToken} from '../api/client.js';
import {getOnce} from '../lib/early.js';

export const useSession = defineStore('session', {
    state: () => ({user: null, tools: [], actions: [], loaded: false, via: null}),
    getters: {
        loggedIn: state => Boolean(state.user),
        roles: state => state.user?.roles ?? [],
    },
    actions: {
        async load() {
            let me;
            try {
                me = await getOnce('/api/auth/me');   // on a cold load: already asked by firstReads.js
            } catch {
                me = {user: null};
            }
            this.apply(me);
            return me;
        },
        apply(me) {
            this.user = me.user ?? null;
            setCsrfToken(me.csrf_token);
            // older servers do not list tools/actions: nothing is offered then
            this.tools = Array.isArray(me.tools) ? me.tools : [];
            this.actions = Array.isArray(me.actions) ? me.actions : [];
            this.via = me.via ?? null;
            this.loaded = true;
        },
        hasTool(id) {
            return this.tools.includes(id);
        },
        may(action) {
            return this.actions.includes(action);
        },
        async login(username, password) {
            await api.post('/api/auth/login', {username, password});
            return this.load();
        },
        async logout() {
            try {
                await api.post('/api/auth/logout');
            } finally {
                await this.load();
            }
        },
    },
});
