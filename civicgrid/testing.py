"""The app for tests and benchmarks.

- `app_client(url, data_dir)` in-process: points the settings at a database and a data folder, runs
  the app's lifespan in a Starlette TestClient and restores the environment afterwards; the client
  carries `.url` and `.creds` (API keys per role, civicgrid.security.testing).
- `start_server(url, env_extra, workers)` a real `civicgrid serve` subprocess on a free port, its
  output in a log file (`proc.log_path`, removed when the calling process exits).
"""
from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from civicgrid.settings import REPO_ROOT

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, env_extra: dict | None = None, workers: int = 1,
                 timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    # the port only by --port, as a person types it: the links the server writes must follow it
    env = {**{k: v for k, v in os.environ.items() if k != "CIVICGRID_PORT"}, "DATABASE_URL": url, **(env_extra or {})}
    # the server's output goes to a file: a pipe nobody reads fills up and stalls the server
    log = tempfile.NamedTemporaryFile(prefix=f"civicgrid-serve-{port}-", suffix=".log", delete=False)
    # readable after the server stopped (tests read it), removed when this process ends
    atexit.register(Path(log.name).unlink, missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log.name
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + Path(log.name).read_text(errors="replace")[-2000:])
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not answer within {timeout_s:.0f} s")


class LoopbackServer:
    """A fake remote service on 127.0.0.1 (a free port) in a daemon thread, as a context manager: the
    subclass gives `_handler()` (a BaseHTTPRequestHandler class) and `path` (the base URL's path)."""
    path = ""
    thread_name = "fake-server"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _listen(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=self.thread_name, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
