"""The collection registry (layers/collections.py) is the one place a collection is declared."""
from __future__ import annotations

from civicgrid.layers import collections as registry
from civicgrid.layers.tiles import LAYERS
from civicgrid.settings import REPO_ROOT


def test_pygeoapi_config_block_is_generated_from_the_registry():
    text = (REPO_ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8")
    assert registry.config_block() in text, "run: python -m civicgrid.layers.collections"


def test_tiles_and_editing_follow_the_registry():
    assert set(LAYERS) == {c.id for c in registry.COLLECTIONS.values() if c.tiles}
    editable = {c.id for c in registry.COLLECTIONS.values() if c.editable}
    assert editable == {"urban-components", "unit-grids", "responsibility-grids", "pois", "annotations"}
    resources = registry.pygeoapi_resources()
    assert {rid for rid, r in resources.items() if r["providers"][0]["editable"]} == editable
