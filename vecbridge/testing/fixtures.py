"""pytest fixtures for the test services: Milvus Lite run as a server process and the noida-db
Elasticsearch emulator, each on a free port of 127.0.0.1.

Use it as a plugin (``pytest_plugins = ["vecbridge.testing.fixtures"]`` in the top-level
``conftest.py``) or import the fixtures you need into a ``conftest.py``.

- ``milvus_lite_server``: one ``MilvusLiteServer`` shared by the session (use unique collection
  names; never stop it). ``milvus_lite_server_factory(name="server.db", **kwargs)`` starts servers
  owned by one test, which may kill and restart them; all stopped at teardown.
- ``es_url``: the URL of an Elasticsearch for the session: ``VECBRIDGE_TEST_ES_URL`` if set, else an
  emulator started for the session (skips the test when noida-db is not installed).
  ``es_auth``: the ``username`` / ``password`` keywords for that URL (empty for the emulator).
  ``es_emulator_factory(name="es")`` starts ``EmulatorProcess``es owned by one test; all stopped
  at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vecbridge.testing.es_emulator import EmulatorProcess, external_es_auth, external_es_url, noida_binary
from vecbridge.testing.milvus_server import MilvusLiteServer

__all__ = ["es_auth", "es_emulator_factory", "es_url", "milvus_lite_server", "milvus_lite_server_factory"]


@pytest.fixture(scope="session")
def milvus_lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusLiteServer]:
    """A Milvus Lite server shared by the session (use unique collection names; never kill it)."""
    with MilvusLiteServer(tmp_path_factory.mktemp("milvus-server") / "shared.db") as server:
        yield server


@pytest.fixture
def milvus_lite_server_factory(tmp_path: Path) -> Iterator[Callable[..., MilvusLiteServer]]:
    """``factory(name="server.db", **kwargs)`` starts a server owned by this test; all stopped at teardown."""
    servers: list[MilvusLiteServer] = []

    def factory(name: str = "server.db", **kwargs: Any) -> MilvusLiteServer:
        server = MilvusLiteServer(tmp_path / name, **kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


def _require_noida() -> None:
    if noida_binary() is None:
        pytest.skip("noida-db (the Elasticsearch emulator) is not installed and VECBRIDGE_TEST_ES_URL is not set")


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``VECBRIDGE_TEST_ES_URL``, else the URL of an emulator shared by the session (stopped at its end)."""
    external = external_es_url()
    if external:
        yield external
        return
    _require_noida()
    with EmulatorProcess(tmp_path_factory.mktemp("es-emulator")) as process:
        yield process.url


@pytest.fixture(scope="session")
def es_auth() -> dict[str, str]:
    """Keywords for ``ElasticsearchConnector`` / ``Elasticsearch``: basic auth of the external server, if given."""
    return external_es_auth()


@pytest.fixture
def es_emulator_factory(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """``factory(name="es", port=None)`` starts an emulator owned by this test (data under
    ``tmp_path / name``); it may be stopped, killed and started again; all stopped at teardown."""
    _require_noida()
    processes: list[EmulatorProcess] = []

    def factory(name: str = "es", port: Any = None) -> EmulatorProcess:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        process = EmulatorProcess(folder, port)
        processes.append(process)
        return process.start()

    yield factory
    for process in processes:
        process.stop()
