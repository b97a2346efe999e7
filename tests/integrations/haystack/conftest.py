"""Fixtures of the Haystack adapter tests: a ``VecbridgeDocumentStore`` on each backend
(``milvus-lite``: a Lite file per test; ``es-emulator``: the noida-db emulator, one per process,
a collection per test, dropped afterwards)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("haystack")

from vecbridge.integrations.haystack import VecbridgeDocumentStore  # noqa: E402

# The metadata keys Haystack's DocumentStoreBaseTests (and the extended mixins) filter on, with types.
SUITE_FILTERABLE: dict[str, str] = {
    "name": "string", "page": "string", "chapter": "string", "number": "int",
    "date": "datetime", "no_embedding": "bool",
    "category": "string", "status": "string", "year": "int", "updated": "bool", "extra_field": "string",
    "featured": "bool",
}
EMBEDDING_DIM = 768


def _es_params() -> Any:
    from tests.elasticsearch.emulator import external_es_url, noida_binary

    if external_es_url() is None and noida_binary() is None:
        return pytest.param("es-emulator", marks=pytest.mark.skip(reason="noida-db (ES emulator) not installed"))
    return "es-emulator"


BACKENDS = ["milvus-lite", _es_params()]


def store_kwargs(backend: str, tmp_path: Path, collection: str) -> dict[str, Any]:
    if backend == "milvus-lite":
        return {"backend": "milvus", "uri": str(tmp_path / "hs.db"), "collection": collection}
    from tests.elasticsearch.emulator import shared_es_url

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
        kwargs = {**store_kwargs(backend, tmp_path, collection_name), "embedding_dim": EMBEDDING_DIM,
                  "filterable": SUITE_FILTERABLE, **overrides}
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


# ---- core features the suite needs that are not on main yet (contract: /work/notes/api12.md) ------
def _landed() -> dict[str, bool]:
    from vecbridge.index import HybridIndex

    return {"iterate": hasattr(HybridIndex, "iterate"), "delete_all": hasattr(HybridIndex, "delete_all")}


FEATURE_REASONS = {
    "iterate": "needs HybridIndex.iterate(filter, with_vectors=True) from branch store",
    "delete_all": "needs HybridIndex.delete_all() from branch store",
}
# Suite tests that never list documents, or whose filter fails before any read.
_NO_READ = {"test_count_empty", "test_count_not_empty", "test_delete_documents",
            "test_delete_documents_empty_document_store", "test_delete_documents_non_existing_document",
            "test_write_documents_duplicate_skip", "test_write_documents_invalid_input",
            "test_delete_by_filter_no_matches", "test_delete_by_filter_advanced_filters"}
_ERROR_ONLY = ("_with_string", "_with_list", "_with_non_list", "test_missing_")


def suite_needs(name: str) -> list[str]:
    """The store features a ``TestVecbridgeDocumentStore`` test needs."""
    needs = ["delete_all"] if "delete_all" in name else []
    if name.startswith("test_count_documents_by_filter") or name in _NO_READ or any(p in name for p in _ERROR_ONLY):
        return needs
    if name in ("test_delete_all_documents", "test_delete_all_documents_empty_store",
                "test_delete_all_documents_without_recreate_index"):
        return needs
    return [*needs, "iterate"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    landed = _landed()
    for item in items:
        if item.cls is None or item.cls.__name__ != "TestVecbridgeDocumentStore":
            continue
        missing = [f for f in suite_needs(item.originalname) if not landed[f]]
        if missing:
            item.add_marker(pytest.mark.xfail(reason="; ".join(FEATURE_REASONS[f] for f in missing), strict=True))
