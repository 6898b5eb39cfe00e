"""The whole app in-process for tests: `app_client(url, data_dir)` points the settings at a database
and a data folder, runs the app's lifespan in a Starlette TestClient, and restores the environment
afterwards. The client carries `.url` and `.creds` (API keys per role, civicgrid.security.testing)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ENV = ("DATABASE_URL", "CIVICGRID_DATA_DIR")


@contextmanager
def app_client(url: str, data_dir: Path | str, **client_kwargs) -> Iterator:
    from starlette.testclient import TestClient

    from civicgrid.app import create_app
    from civicgrid.security.testing import Credentials
    from civicgrid.settings import get_settings

    saved = {n: os.environ.get(n) for n in ENV}
    os.environ.update({"DATABASE_URL": url, "CIVICGRID_DATA_DIR": str(data_dir)})
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), **client_kwargs) as client:
            client.url, client.creds = url, Credentials(url)
            yield client
    finally:
        for n, v in saved.items():
            os.environ.pop(n, None) if v is None else os.environ.__setitem__(n, v)
        get_settings.cache_clear()
