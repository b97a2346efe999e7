"""The fixtures every conformance mixin uses, built on the ``backend`` fixture the test class supplies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vecbridge.connectors.base import Connector
from vecbridge.testing.backend import Backend

ConnectorFactory = Callable[[], Connector]


def _cleanup(backend: Backend, workdir: Path, opened: list[Connector], names: list[str]) -> None:
    """Drop ``names`` through the last opened connector (connectors reconnect lazily), close all."""
    if not opened:
        opened.append(backend.open(workdir))
    try:
        for name in names:
            if opened[-1].has_collection(name):
                opened[-1].drop_collection(name)
    finally:
        for connector in opened:
            connector.close()


class ConformanceBase:
    """Fixtures ``collection_name`` (unique per test), ``connector_factory`` (opens connectors on
    this test's store; closes them and drops the test's collection at teardown) and ``connector``.

    The test class (or a conftest) supplies ``backend``: a ``vecbridge.testing.Backend``, at class
    scope or wider (the read-only filter tests share one loaded collection per class).
    """

    @pytest.fixture
    def collection_name(self, request: pytest.FixtureRequest) -> str:
        digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
        return f"vbconf_{digest}"

    @pytest.fixture
    def connector_factory(self, backend: Backend, tmp_path: Path, collection_name: str) -> Iterator[ConnectorFactory]:
        """Call it to open a connector on this test's store; every connector is closed at teardown and
        the test's collection dropped. Calling it again after ``close()`` reopens the same store."""
        opened: list[Connector] = []

        def factory() -> Connector:
            connector = backend.open(tmp_path)
            opened.append(connector)
            return connector

        yield factory
        _cleanup(backend, tmp_path, opened, [collection_name])

    @pytest.fixture
    def connector(self, connector_factory: ConnectorFactory) -> Connector:
        return connector_factory()
