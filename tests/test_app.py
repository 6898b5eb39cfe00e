"""The app's parts (civicgrid.app.PARTS): each is loaded explicitly, a missing or broken one stops the start."""
from __future__ import annotations

import pytest

from civicgrid.app import PARTS, create_app
from civicgrid.errors import SetupError


def test_a_missing_part_stops_the_start_with_its_name():
    with pytest.raises(SetupError, match=r"part civicgrid\.layers\.apii cannot be loaded: ModuleNotFoundError"):
        create_app((*PARTS, "civicgrid.layers.apii"))


def test_a_broken_part_stops_the_start_with_its_error(tmp_path, monkeypatch):
    (tmp_path / "broken_part.py").write_text("routes = [\n    undefined_route]\n", encoding="utf-8")
    (tmp_path / "hookless_part.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SetupError, match="part broken_part cannot be loaded: NameError: name 'undefined_route'"):
        create_app((*PARTS, "broken_part"))
    with pytest.raises(SetupError, match="part hookless_part offers none of routes, mount, lifespan, middleware"):
        create_app((*PARTS, "hookless_part"))
