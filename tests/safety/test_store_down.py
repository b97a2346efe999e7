"""Elasticsearch unreachable: the retry setting bounds the transport's tries too, and the CLI says
so in one error line (no transport warnings, no tracebacks) at the default log level."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from vecbridge.connectors.elasticsearch import ElasticsearchConnector
from vecbridge.schemas import StoreUnavailableError

ROOT = Path(__file__).resolve().parents[2]


class RefusingServer:
    """Accepts TCP connections on 127.0.0.1 and closes each at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def refusing():
    server = RefusingServer()
    yield server
    server.close()


@pytest.mark.parametrize("attempts", [1, 2])
def test_the_retry_setting_bounds_the_transport_tries(refusing, attempts):
    connector = ElasticsearchConnector(url=refusing.url, max_attempts=attempts, initial_backoff=0, max_backoff=0)
    with pytest.raises(StoreUnavailableError, match="unavailable"):
        connector.has_collection("x")
    assert refusing.connections == attempts
    connector.close()


def test_cli_search_against_a_down_store_prints_one_error_line(tmp_path):
    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VECBRIDGE_BACKEND": "elasticsearch",
        "VECBRIDGE_ES_URL": f"http://127.0.0.1:{port}",
        "VECBRIDGE_RETRY_ATTEMPTS": "1",
        "VECBRIDGE_DENSE_MODEL": "none",
        "VECBRIDGE_SPARSE_MODEL": "bm25",
    }
    env.pop("VECBRIDGE_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "vecbridge", "search", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Elasticsearch at") and "unavailable" in lines[0], (
        result.stderr
    )
