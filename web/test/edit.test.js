import {describe, expect, it} from 'vitest';

import {differences, editableGeometry, formFields, fromForm, nearestVertex, patchOf, savedGeometry, toForm}
    from '../src/map/tools/editForm.js';

const SCHEMA = {
    required: ['type_code', 'name', 'dept_code', 'initial_date'],
    properties: {
        geometry: {format: 'geometry-any'},
        id: {title: '部件标识码', type: 'string'},
        type_code: {type: 'string', enum: ['01001', '01002']},
        name: {type: 'string'},
        dept_code: {type: 'string'},
        status: {type: 'string', enum: ['完好', '破损']},
        initial_date: {type: 'string', format: 'date'},
        extra: {type: 'object'},
        version: {type: 'integer', readOnly: true},
        updated_by: {type: 'string', readOnly: true},
    },
};

describe('the editing form from queryables', () => {
    it('has a widget per editable field, read-only ones left out, required ones marked', () => {
        const fields = formFields(SCHEMA, 'urban-components');
        expect(fields.map(f => [f.name, f.kind, f.required])).toEqual([
            ['id', 'text', false], ['type_code', 'class', true], ['name', 'text', true],
            ['dept_code', 'department', true], ['status', 'enum', false], ['initial_date', 'date', true],
            ['extra', 'json', false]]);
    });

    it('sends only what changed, in the types the server takes', () => {
        const fields = formFields(SCHEMA, 'urban-components');
        const original = {name: '井盖', status: '完好', extra: {a: 1}, initial_date: '2026-01-01'};
        const form = Object.fromEntries(fields.map(f => [f.name, toForm(f, original[f.name])]));
        expect(patchOf(fields, original, form)).toEqual({});
        form.name = '雨水井盖';
        form.status = '';
        expect(patchOf(fields, original, form)).toEqual({name: '雨水井盖', status: null});
        const list = {name: 'alias', kind: 'list'};
        expect(fromForm(list, toForm(list, ['甲', '乙']))).toEqual(['甲', '乙']);
        expect(fromForm({kind: 'integer'}, '12')).toBe(12);
    });

    it('names the fields two versions differ in, bookkeeping aside', () => {
        expect(differences({name: 'a', status: '完好', version: 1}, {name: 'b', status: '完好', version: 2}))
            .toEqual([{name: 'name', before: 'a', after: 'b'}]);
    });
});

describe('geometry for terra-draw', () => {
    it('edits single parts, multi-geometries of one part as that part', () => {
        const square = [[[0, 0], [1, 0], [1, 1], [0, 0]]];
        expect(editableGeometry({type: 'Point', coordinates: [1, 2]}).mode).toBe('point');
        const one = editableGeometry({type: 'MultiPolygon', coordinates: [square]});
        expect(one).toEqual({geometry: {type: 'Polygon', coordinates: square}, mode: 'polygon', multi: true});
        expect(savedGeometry(one.geometry, true)).toEqual({type: 'MultiPolygon', coordinates: [square]});
        expect(editableGeometry({type: 'MultiPolygon', coordinates: [square, square]})).toBeNull();
    });

    it('snaps to the nearest vertex within the tolerance', () => {
        const project = ([x, y]) => ({x: x * 100, y: y * 100});
        const candidates = [[1, 1], [1.05, 1.02], [3, 3]];
        expect(nearestVertex({x: 104, y: 101}, candidates, project, 10)).toEqual([1.05, 1.02]);
        expect(nearestVertex({x: 200, y: 200}, candidates, project, 10)).toBeUndefined();
    });
});
