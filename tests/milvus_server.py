"""Pytest fixtures around ``benchmarks/milvus_lite_server.py`` (Milvus Lite 2.5.1 as a real gRPC
server process, for tests that need ``uri="http://..."``).

``milvus_server`` (one per test session, shared: do not kill it) and ``milvus_server_factory``
(servers owned by one test, which may kill/restart them; all stopped at teardown). Import them into
a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks.milvus_lite_server import MilvusLiteServer, free_port, shared_milvus_uri

__all__ = ["MilvusLiteServer", "free_port", "milvus_server", "milvus_server_factory", "shared_milvus_uri"]


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusLiteServer]:
    """A Milvus Lite server shared by the session (use unique collection names; never kill it)."""
    with MilvusLiteServer(tmp_path_factory.mktemp("milvus-server") / "shared.db") as server:
        yield server


@pytest.fixture
def milvus_server_factory(tmp_path: Path) -> Iterator[Callable[..., MilvusLiteServer]]:
    """``factory(name="server.db")`` starts a server owned by this test; all stopped at teardown."""
    servers: list[MilvusLiteServer] = []

    def factory(name: str = "server.db", **kwargs: object) -> MilvusLiteServer:
        server = MilvusLiteServer(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()
