"""Settings (civicgrid/settings.py): every variable documented in the README, bad values named."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from civicgrid.errors import SetupError
from civicgrid.settings import REPO_ROOT, Settings, get_settings, settings_table


def test_readme_configuration_table_is_the_settings():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "README's configuration table differs from civicgrid.settings.settings_table()"


def test_environment_is_read_and_typed(monkeypatch, tmp_path):
    monkeypatch.setenv("CIVICGRID_PG_PORT", "55001")
    monkeypatch.setenv("CIVICGRID_TIMER_INTERVAL", "2.5")
    monkeypatch.setenv("CIVICGRID_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICGRID_PUBLIC_URL", "https://renhe.example/")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = Settings()
    assert (s.pg_port, s.timer_interval, s.data_dir) == (55001, 2.5, tmp_path.resolve())
    assert s.public_url == "https://renhe.example" and s.uses_private_cluster
    assert s.dsn.endswith(":55001/civicgrid")


@pytest.mark.parametrize("name, value", [("CIVICGRID_PG_PORT", "abc"), ("CIVICGRID_PORT", "70000"),
                                         ("CIVICGRID_TIMER_INTERVAL", "0"), ("CIVICGRID_PUBLIC_URL", "renhe.example")])
def test_a_bad_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SetupError, match=f"^{name}: "):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_cli_says_which_variable_is_wrong():
    env = {**os.environ, "CIVICGRID_PG_PORT": "port"}
    proc = subprocess.run([sys.executable, "-m", "civicgrid.cli", "db", "status"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("civicgrid: CIVICGRID_PG_PORT: ")
