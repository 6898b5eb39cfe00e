// 网格员 (live officers): the list of officers with their grid, the age of their last fix and
// 在岗 / 离线, searchable by name; a click flies the map to the officer. The positions themselves
// are the layer group `officer-latest` (layers/officers.js), which this list shares its data with.
export default {
    id: 'officers',
    title: '网格员',
    icon: 'User',
    panel: () => import('./OfficersPanel.vue'),
    activate() {},
    deactivate() {},
};
