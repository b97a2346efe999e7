"""The noida-db Elasticsearch EMULATOR (ES-8.15-compatible API, not a real Elasticsearch server) as a
local process on 127.0.0.1: shared by benchmarks and tests (tests/elasticsearch/emulator.py)."""

from __future__ import annotations

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


@contextmanager
def noida_elasticsearch(data_dir: Path) -> Iterator[str]:
    """Start the noida-db Elasticsearch EMULATOR on 127.0.0.1:<free port>; stop it with SIGINT."""
    binary = noida_binary()
    if binary is None:
        raise FileNotFoundError("noida-db is not installed (pip install noida-db==0.2.3, in the dev extra)")
    port = free_port()
    log = open(data_dir / "noida.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "start", "--only", "elasticsearch", "--elasticsearch-port", str(port),
         "--host", "127.0.0.1", "--data-dir", str(data_dir / "data")],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # SIGINT flushes its data file; kill -9 loses the last second
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
