"""Fixtures of the Haystack adapter tests: a ``VecbridgeDocumentStore`` on each backend
(``milvus-lite``: a Lite file per test; ``milvus-server``: Lite's server, one per process, a
collection per test; ``es-emulator``: the noida-db emulator, one per process,
a collection per test, dropped afterwards)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # read when haystack is imported: tests stay offline
pytest.importorskip("haystack")

from vecbridge.integrations.haystack import VecbridgeDocumentStore  # noqa: E402

# The metadata keys Haystack's DocumentStoreBaseTests (and the extended mixins) filter on, with types.
SUITE_FILTERABLE: dict[str, str] = {
    "name": "string",
    "page": "string",
    "chapter": "string",
    "number": "int",
    "date": "datetime",
    "no_embedding": "bool",
    "category": "string",
    "status": "string",
    "year": "int",
    "updated": "bool",
    "extra_field": "string",
    "featured": "bool",
}
EMBEDDING_DIM = 768


def _es_params() -> Any:
    from vecbridge.testing.es_emulator import external_es_url, noida_binary

    if external_es_url() is None and noida_binary() is None:
        return pytest.param("es-emulator", marks=pytest.mark.skip(reason="noida-db (ES emulator) not installed"))
    return "es-emulator"


BACKENDS = ["milvus-lite", _es_params()]


def store_kwargs(backend: str, tmp_path: Path, collection: str) -> dict[str, Any]:
    if backend == "milvus-lite":
        return {"backend": "milvus", "uri": str(tmp_path / "hs.db"), "collection": collection}
    if backend == "milvus-server":  # Milvus Lite's gRPC server, one per test process
        from vecbridge.testing.milvus_server import shared_milvus_uri

        return {"backend": "milvus", "uri": shared_milvus_uri(), "collection": collection}
    from vecbridge.testing.es_emulator import shared_es_url

    return {"backend": "elasticsearch", "es_url": shared_es_url(), "collection": collection}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def collection_name(request: pytest.FixtureRequest) -> str:
    return "hs_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


@pytest.fixture
def make_store(backend: str, tmp_path: Path, collection_name: str) -> Iterator[Any]:
    """``make_store(**overrides)``: a store on this test's backend; all are closed and the
    collection dropped at teardown."""
    stores: list[VecbridgeDocumentStore] = []

    def make(**overrides: Any) -> VecbridgeDocumentStore:
        kwargs = {
            **store_kwargs(backend, tmp_path, collection_name),
            "embedding_dim": EMBEDDING_DIM,
            "filterable": SUITE_FILTERABLE,
            **overrides,
        }
        store = VecbridgeDocumentStore(**kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores[::-1]:
        try:
            if store._index is not None:
                connector = store.index.connector
                if connector.has_collection(store.collection):
                    connector.drop_collection(store.collection)
        finally:
            store.close()
