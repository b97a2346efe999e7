"""Stores the async tests run on, each reachable by a sync and an async connector at once
(Milvus Lite file: one after the other; pymilvus shares one embedded server per file per process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.facade.fakes import InMemoryConnector
from vecbridge.connectors import ThreadedConnector


@dataclass(frozen=True)
class Store:
    name: str
    open_sync: Callable[[Path], Any]
    open_async: Callable[[Path], Any]
    concurrent_sync: bool = True  # a sync connector may be open while the async one is


_MEMORY: dict[Path, InMemoryConnector] = {}


def _memory(tmp: Path) -> InMemoryConnector:
    return _MEMORY.setdefault(tmp, InMemoryConnector())


def _milvus_file(tmp: Path) -> str:
    return str(tmp / "async.db")


def _milvus_sync(uri: Callable[[Path], str]) -> Callable[[Path], Any]:
    def open_(tmp: Path) -> Any:
        from vecbridge.connectors.milvus import MilvusConnector

        return MilvusConnector(uri(tmp))

    return open_


def _milvus_async(uri: Callable[[Path], str]) -> Callable[[Path], Any]:
    def open_(tmp: Path) -> Any:
        from vecbridge.connectors.milvus import AsyncMilvusConnector

        return AsyncMilvusConnector(uri(tmp))

    return open_


def _server_uri(tmp: Path) -> str:
    from vecbridge.testing.milvus_server import shared_milvus_uri

    return shared_milvus_uri()


def _es_sync(tmp: Path) -> Any:
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector, IpSimilarity
    from vecbridge.testing.es_emulator import external_es_auth, shared_es_url

    return ElasticsearchConnector(
        url=shared_es_url(), ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **external_es_auth()
    )


def _es_async(tmp: Path) -> Any:
    from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, IpSimilarity
    from vecbridge.testing.es_emulator import external_es_auth, shared_es_url

    return AsyncElasticsearchConnector(
        url=shared_es_url(), ip_similarity=IpSimilarity.MAX_INNER_PRODUCT, **external_es_auth()
    )


def _es_marks() -> tuple[Any, ...]:
    from vecbridge.testing.es_emulator import external_es_url, noida_binary

    if external_es_url() is None and noida_binary() is None:
        return (pytest.mark.skip(reason="noida-db (ES emulator) not installed and VECBRIDGE_TEST_ES_URL not set"),)
    return ()


STORES = [
    pytest.param(Store("memory-threaded", _memory, lambda tmp: ThreadedConnector(_memory(tmp))), id="memory-threaded"),
    pytest.param(
        Store("milvus-lite", _milvus_sync(_milvus_file), _milvus_async(_milvus_file), concurrent_sync=False),
        id="milvus-lite",
    ),
    pytest.param(Store("milvus-server", _milvus_sync(_server_uri), _milvus_async(_server_uri)), id="milvus-server"),
    pytest.param(Store("es-emulator", _es_sync, _es_async), id="es-emulator", marks=_es_marks()),
]
