"""Fixtures of the conformance suite: ``backend`` (parametrized over ``BACKENDS``),
``connector_factory`` (opens connectors on one per-test store, closes and cleans up) and
``collection_name`` (unique per test)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vecbridge.connectors.base import Connector
from tests.conformance.backends import BACKENDS, Backend

ConnectorFactory = Callable[[], Connector]


@pytest.fixture(scope="session", params=[pytest.param(b, id=b.name, marks=b.marks) for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def collection_name(request: pytest.FixtureRequest) -> str:
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    return f"vbconf_{digest}"


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


@pytest.fixture
def connector_factory(backend: Backend, tmp_path: Path, collection_name: str) -> Iterator[ConnectorFactory]:
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
def connector(connector_factory: ConnectorFactory) -> Connector:
    return connector_factory()
