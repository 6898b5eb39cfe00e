// 流程管理's pure helpers: the graph of a definition, error paths onto the form, renaming a state,
// the tidy (stored) form with states in the order a case meets them.
import {describe, expect, it} from 'vitest';

import {errorsByPlace, flowOrder, graphOf, parsePath, placeOf, placesOf, renameState, tidy} from '../src/features/workflows/model.js';

const def = () => ({
    code: 'mini', name: '小流程', initial: {default: 'new', by_channel: {public: 'check'}},
    states: {done: {name: '结案', closed: true}, work: {name: '处置', time_limit: {default: '1d', rules: []}},
        check: {name: '核实'}, new: {name: '上报'}},
    transitions: [
        {action: 'take', name: '受理', from: ['new', 'check'], to: 'work', roles: ['shift_leader']},
        {action: 'urge', name: '催办', from: '*', to: null, roles: ['leader']},
        {action: 'finish', from: ['work'], to: 'done', roles: ['department_handler'], guard: '', effects: []},
        {action: 'auto', from: ['check'], to: 'new', roles: ['system'], auto: true},
    ],
});

describe('workflow model', () => {
    it('draws moves as edges and stays inside the state', () => {
        const g = graphOf(def(), r => `R:${r}`);
        expect(g.edges.map(e => `${e.from}>${e.to}`)).toEqual(['new>work', 'check>work', 'work>done', 'check>new']);
        expect(g.edges[0].roles).toEqual(['R:shift_leader']);
        expect(g.edges[3].auto).toBe(true);
        const byId = Object.fromEntries(g.nodes.map(n => [n.id, n]));
        // "*" is every open state: the closed one gets no 催办
        expect(['work', 'check', 'new'].every(s => byId[s].stays[0].name === '催办')).toBe(true);
        expect(byId.done.stays).toEqual([]);
        expect(byId.done.closed && byId.new.initial && byId.check.initial && !byId.work.initial).toBe(true);
    });

    it('maps error paths to the deepest place the form has', () => {
        const places = placesOf(def());
        expect(parsePath('transitions[3].roles[0]')).toEqual(['transitions', 3, 'roles', 0]);
        expect(placeOf('transitions[3].roles[0]', places)).toBe('transitions[3].roles');
        expect(placeOf('states.work.time_limit.default', places)).toBe('states.work.time_limit.default');
        expect(placeOf('line 3, column 1', places)).toBe(null);
        expect(errorsByPlace([{path: 'states.nowhere', message: 'a'}, {path: 'transitions[0].to', message: 'b'},
            {path: '(root)', message: 'c'}], places)).toEqual({states: ['a'], 'transitions[0].to': ['b'], _: ['c']});
    });

    it('renames a state everywhere and keeps the order', () => {
        const d = def();
        expect(renameState(d, 'work', 'handling')).toBe(true);
        expect(Object.keys(d.states)).toEqual(['done', 'handling', 'check', 'new']);
        expect(d.transitions[0].to).toBe('handling');
        expect(d.transitions[2].from).toEqual(['handling']);
        expect(renameState(d, 'new', 'check')).toBe(false);    // taken
        expect(renameState(d, 'check', 'verify') && d.initial.by_channel.public).toBe('verify');
    });

    it('tidies a definition as the server stores it', () => {
        const d = def();
        expect(flowOrder(d)).toEqual(['new', 'check', 'work', 'done']);
        const t = tidy(d);
        expect(Object.keys(t.states)).toEqual(['new', 'check', 'work', 'done']);
        expect(t.states.work).toEqual({name: '处置', time_limit: {default: '1d'}});
        expect(t.transitions[2]).toEqual({action: 'finish', from: ['work'], to: 'done', roles: ['department_handler']});
        expect(t.transitions[3].auto).toBe(true);
    });
    it('keeps whether a transition captures the position', () => {
        const d = def();
        d.transitions[0].position = 'optional';
        expect(tidy(d).transitions[0].position).toBe('optional');
        expect('position' in tidy(def()).transitions[0]).toBe(false);
        expect(placesOf(d).has('transitions[0].position')).toBe(true);
    });
});
