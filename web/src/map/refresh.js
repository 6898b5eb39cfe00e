// Redraw vector-tile sources after a write (普查 publish/rollback, 编辑): new tile URLs with a `v`
// parameter, past the browser's 60 s tile cache (the tile routes accept and ignore it).
export function refreshSources(map, ids) {
    for (const id of ids) {
        const source = map?.getSource(id);
        if (!source?.setTiles) continue;
        const tiles = (source.tiles ?? []).map(t => t.replace(/([?&])v=\d+/, '').replace(/\?$/, ''));
        source.setTiles(tiles.map(t => `${t}${t.includes('?') ? '&' : '?'}v=${Date.now()}`));
    }
}
