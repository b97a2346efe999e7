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

from schemas import ScalarType  # noqa: E402
from vecbridge.integrations.haystack import VecbridgeDocumentStore  # noqa: E402

HAS_DATETIME = "datetime" in {t.value for t in ScalarType}

# The metadata keys Haystack's DocumentStoreBaseTests (and the extended mixins) filter on, with types.
SUITE_FILTERABLE: dict[str, str] = {
    "name": "string", "page": "string", "chapter": "string", "number": "int",
    "date": "datetime" if HAS_DATETIME else "string", "no_embedding": "bool",
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
def _none_filters() -> bool:
    from schemas import parse_filter

    try:
        parse_filter({"key": "k", "op": "==", "value": None})
    except Exception:
        return False
    return True


def _landed() -> dict[str, bool]:
    from vecbridge.index import HybridIndex

    return {
        "iterate": hasattr(HybridIndex, "iterate"),
        "delete_all": hasattr(HybridIndex, "delete_all"),
        "none": _none_filters(),
        "datetime": HAS_DATETIME,
    }


FEATURE_REASONS = {
    "iterate": "needs HybridIndex.iterate(filter, with_vectors=True) from branch store",
    "delete_all": "needs HybridIndex.delete_all() from branch store",
    "none": "needs None in filters and Haystack's missing-key semantics from branch sem",
    "datetime": "needs ScalarType.DATETIME with range filters from branch sem",
    "missing_keys": "needs documents lacking filterable keys on Milvus Lite from branch sem",
}
# Suite tests that never write a document or whose filter fails before any read.
_NO_WRITE = {"test_count_empty", "test_delete_documents_empty_document_store", "test_delete_all_documents_empty_store",
             "test_count_documents_by_filter_empty_collection", "test_write_documents_invalid_input"}
_ERROR_ONLY = ("_with_string", "_with_list", "_with_non_list", "test_missing_")
_NO_READ = {"test_count_not_empty", "test_delete_documents", "test_delete_documents_non_existing_document",
            "test_write_documents_duplicate_skip", "test_delete_by_filter_no_matches",
            "test_delete_by_filter_advanced_filters"}


def suite_needs(name: str, backend: str) -> list[str]:
    """The core features a ``TestVecbridgeDocumentStore`` test needs on ``backend``."""
    needs = []
    empty = name.endswith(("_empty_collection", "_empty_store"))
    if backend == "milvus-lite" and name not in _NO_WRITE and not empty:
        needs.append("missing_keys")
    if name.startswith(("test_count_unique_metadata", "test_get_metadata_field")):
        return [*needs, "iterate"]
    if "delete_all" in name:
        needs.append("delete_all")
    if name.startswith("test_count_documents_by_filter") or name in _NO_WRITE or name in _NO_READ:
        return needs
    if name.endswith(_ERROR_ONLY) or any(p in name for p in _ERROR_ONLY):
        return needs
    needs.append("iterate")
    if name.endswith("_with_none") or "not_equal" in name or "not_in" in name:
        needs.append("none")
    if "iso_date" in name:
        needs.append("datetime")
    return needs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    landed = _landed()
    landed["missing_keys"] = landed["none"]  # both come with sem's missing-key semantics
    for item in items:
        if item.cls is None or item.cls.__name__ != "TestVecbridgeDocumentStore":
            continue
        backend = item.callspec.params.get("backend", "") if hasattr(item, "callspec") else ""
        missing = [f for f in suite_needs(item.originalname, backend) if not landed[f]]
        if missing:
            item.add_marker(pytest.mark.xfail(reason="; ".join(FEATURE_REASONS[f] for f in missing), strict=False))
