"""The noida-db Elasticsearch EMULATOR (ES-8.15-compatible API, not a real Elasticsearch server) as a
local process on 127.0.0.1, for tests and benchmarks (``pip install noida-db``, in the dev extra).

``noida_elasticsearch(folder)`` is a context manager giving the URL of a fresh emulator;
``EmulatorProcess`` is one that can be stopped, killed and started again on the same data;
``shared_es_url()`` serves code without fixtures (one per process, stopped at exit). Set
``VECBRIDGE_TEST_ES_URL`` (and ``VECBRIDGE_TEST_ES_USERNAME`` / ``_PASSWORD``) to use a real server
instead: ``external_es_url()`` / ``external_es_auth()``. ``vecbridge.testing.fixtures`` wraps these in
pytest fixtures. Imports nothing of pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

__all__ = [
    "ES_URL_ENV",
    "EmulatorProcess",
    "external_es_auth",
    "external_es_url",
    "free_port",
    "noida_binary",
    "noida_elasticsearch",
    "shared_es_url",
    "wait_healthy",
]

ES_URL_ENV = "VECBRIDGE_TEST_ES_URL"
NOT_INSTALLED = "noida-db is not installed (pip install noida-db==0.2.3, in the dev extra)"


def noida_binary() -> Optional[Path]:
    """The ``noida-db`` binary shipped inside the ``noida_db`` package folder (None if not installed)."""
    try:
        import noida_db
    except ImportError:
        return None
    path = Path(noida_db.__file__).parent / "noida-db"
    if path.exists():
        return path
    found = shutil.which("noida-db")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 30.0, proc: Optional[subprocess.Popen] = None) -> None:
    """Poll ``/_cluster/health`` until it answers green/yellow."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"emulator exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_cluster/health", timeout=2) as resp:
                if b'"status":"red"' not in resp.read():
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s (last error: {last})")


class EmulatorProcess:
    """One emulator process on a fixed port and data directory that can be stopped (SIGINT, or
    ``kill()``: SIGKILL, which drops its last ~1 s of acknowledged writes by design) and started
    again; every wait is bounded."""

    def __init__(self, workdir: Path, port: Optional[int] = None):
        self.workdir, self.port = Path(workdir), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> EmulatorProcess:
        """Start the process and wait (bounded) until ``/_cluster/health`` answers."""
        binary = noida_binary()
        if binary is None:
            raise FileNotFoundError(NOT_INSTALLED)
        with open(self.workdir / "noida.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    "start",
                    "--only",
                    "elasticsearch",
                    "--elasticsearch-port",
                    str(self.port),
                    "--host",
                    "127.0.0.1",
                    "--data-dir",
                    str(self.workdir / "data"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(self.url, timeout=30, proc=self.proc)
        except BaseException:
            self.kill()
            raise
        return self

    def _end(self, sig: int) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGINT: the emulator flushes what it acknowledged, then exits."""
        self._end(signal.SIGINT)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def __enter__(self) -> EmulatorProcess:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def noida_elasticsearch(data_dir: Path) -> Iterator[str]:
    """Start the noida-db Elasticsearch EMULATOR on 127.0.0.1:<free port> with its data under
    ``data_dir``; yields its URL; stops it with SIGINT (it flushes what it acknowledged)."""
    with EmulatorProcess(data_dir) as process:
        yield process.url


def external_es_url() -> Optional[str]:
    return os.environ.get(ES_URL_ENV) or None


def external_es_auth() -> dict[str, str]:
    """Basic auth for the external server (VECBRIDGE_TEST_ES_USERNAME / _PASSWORD), if given."""
    user, password = os.environ.get("VECBRIDGE_TEST_ES_USERNAME"), os.environ.get("VECBRIDGE_TEST_ES_PASSWORD")
    return {"username": user, "password": password} if user and password else {}


_SHARED: dict[str, object] = {}


def shared_es_url() -> str:
    """One ES URL per process, for code without fixtures (store registries built at import time):
    ``VECBRIDGE_TEST_ES_URL`` if set, else a noida-db EMULATOR started on first call and stopped
    (SIGINT) at interpreter exit."""
    url = external_es_url()
    if url:
        return url
    if "url" not in _SHARED:
        import atexit
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="vecbridge-noida-"))
        manager = noida_elasticsearch(workdir)
        _SHARED["url"] = manager.__enter__()

        def stop() -> None:
            manager.__exit__(None, None, None)
            shutil.rmtree(workdir, ignore_errors=True)

        atexit.register(stop)
    return str(_SHARED["url"])
