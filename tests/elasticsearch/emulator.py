"""Test services. Elasticsearch in CI is the ``noida-db`` EMULATOR (ES-8.15-compatible API), not a
real Elasticsearch server; set ``VECBRIDGE_TEST_ES_URL`` to run the same tests against a real one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional

from benchmarks.es_emulator import free_port, noida_binary, noida_elasticsearch, wait_healthy

__all__ = ["ES_URL_ENV", "EmulatorProcess", "external_es_auth", "external_es_url", "free_port", "noida_binary", "noida_elasticsearch",
           "shared_es_url", "wait_healthy"]

ES_URL_ENV = "VECBRIDGE_TEST_ES_URL"


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

    def start(self) -> "EmulatorProcess":
        binary = noida_binary()
        if binary is None:
            raise FileNotFoundError("noida-db is not installed (pip install noida-db==0.2.3, in the dev extra)")
        with open(self.workdir / "noida.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(binary), "start", "--only", "elasticsearch", "--elasticsearch-port", str(self.port),
                 "--host", "127.0.0.1", "--data-dir", str(self.workdir / "data")],
                stdout=log, stderr=subprocess.STDOUT,
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


def external_es_url() -> Optional[str]:
    return os.environ.get(ES_URL_ENV) or None


def external_es_auth() -> dict[str, str]:
    """Basic auth for the external server (VECBRIDGE_TEST_ES_USERNAME / _PASSWORD), if given."""
    user, password = os.environ.get("VECBRIDGE_TEST_ES_USERNAME"), os.environ.get("VECBRIDGE_TEST_ES_PASSWORD")
    return {"username": user, "password": password} if user and password else {}


_SHARED: dict[str, object] = {}


def shared_es_url() -> str:
    """One ES URL per test process, for registries without fixtures (the conformance suite):
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
