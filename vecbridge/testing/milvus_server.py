"""Milvus Lite 2.5.1 as a real gRPC server process, for tests that need ``uri="http://..."``.

``MilvusLiteServer(db_path)`` runs ``milvus_lite.server.Server(db_path, address="127.0.0.1:P")`` in a
subprocess (its own process group: this file run as a script), on a free loopback port, and waits
until ``MilvusClient(uri="http://127.0.0.1:P")`` answers. ``kill()`` SIGKILLs the whole group (the
Python wrapper and the ``milvus`` binary), ``stop()`` terminates it, ``restart()`` starts it again on
the same database file and port. Every wait is bounded.

Used by benchmarks and tests; ``vecbridge.testing.fixtures`` wraps it in pytest fixtures.
``shared_milvus_uri()`` serves code without fixtures (store registries built at import time): one
server per process, stopped at exit. Needs the ``milvus`` extra; imports nothing of pytest.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

__all__ = ["MilvusLiteServer", "free_port", "shared_milvus_uri"]

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process of group ``pgid`` remains (Linux ``/proc``)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return False
    for stat in proc_dir.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class MilvusLiteServer:
    """One Milvus Lite server process on ``127.0.0.1:port`` serving ``db_path``."""

    def __init__(self, db_path: Path, port: Optional[int] = None, startup_timeout: float = STARTUP_TIMEOUT):
        self.db_path = Path(db_path).absolute()
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._proc: Optional[subprocess.Popen] = None
        self._log_path = self.db_path.parent / f"{self.db_path.name}.server.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> MilvusLiteServer:
        """Start the process and wait (bounded) until a client gets an answer."""
        if self.running:
            raise RuntimeError(f"Milvus Lite server on {self.uri} is already running")
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, __file__, str(self.db_path), f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        from pymilvus import MilvusClient

        deadline = time.monotonic() + self.startup_timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"Milvus Lite server exited with code {self._proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                # own alias: pymilvus shares one connection per uri and close() would drop it
                client = MilvusClient(uri=self.uri, timeout=5, alias=f"vecbridge-probe-{uuid.uuid4().hex}")
                try:
                    client.list_collections(timeout=5)
                    return
                finally:
                    client.close()
            except Exception as exc:  # not up yet
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"Milvus Lite server on {self.uri} not ready after {self.startup_timeout}s: {last}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _signal(self, sig: int, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 10  # the binary is in the same group: gone before a restart
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break

    def kill(self) -> None:
        """SIGKILL the server (wrapper and binary): a crash, nothing flushed on purpose."""
        self._signal(signal.SIGKILL, timeout=10)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, SIGKILL after 10 s)."""
        self._signal(signal.SIGTERM, timeout=10)

    def restart(self) -> MilvusLiteServer:
        """Stop if running, then start again on the same database file and port."""
        self.stop()
        return self.start()

    def __enter__(self) -> MilvusLiteServer:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_SHARED: dict[str, MilvusLiteServer] = {}


def shared_milvus_uri() -> str:
    """One server per test process for fixture-less registries; stopped at interpreter exit."""
    if "server" not in _SHARED:
        import atexit
        import shutil
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="vecbridge-milvus-server-"))
        server = MilvusLiteServer(workdir / "shared.db").start()
        _SHARED["server"] = server

        def stop() -> None:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)

        atexit.register(stop)
    return _SHARED["server"].uri


def _serve(db_path: str, address: str) -> None:
    """Subprocess entry point: run ``milvus_lite.server.Server`` until terminated or orphaned (the
    process that started it died without stopping it, e.g. a killed test run)."""
    from milvus_lite.server import Server

    parent = os.getppid()

    server = Server(db_path, address=address)
    if not server.init() or not server.start():
        sys.exit(f"milvus_lite could not start on {address} with {db_path}")

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    binary = server._p
    while not stopping and binary.poll() is None:  # no blocking wait: handlers must be able to run
        if os.getppid() != parent:
            stopping.append(signal.SIGHUP)
            break
        time.sleep(0.1)
    if binary.poll() is None:
        binary.terminate()  # the binary exits at once on SIGTERM
    server.stop()  # reaps the binary, releases the file lock
    sys.exit(0 if stopping else binary.returncode)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent  # run as a script: its folder must not shadow other modules
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    _serve(sys.argv[1], sys.argv[2])
