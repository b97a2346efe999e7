"""LangChain's own ``VectorStoreIntegrationTests`` (PyPI ``langchain-tests``), sync and async parts,
on Milvus Lite (file) and on the Elasticsearch emulator. No standard test is overridden or switched off:
``has_sync``, ``has_async`` and ``has_get_by_ids`` keep the suite's defaults (True), so every test runs.
The async tests run LangChain's default async methods (the sync ones in a worker thread), and again
(``...AsyncIndex`` classes) the adapter's own, which await an ``AsyncHybridIndex`` (here over
``ThreadedConnector``, the async protocol over the same sync connector)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import VectorStoreIntegrationTests  # noqa: E402

from tests.integrations.langchain.conftest import open_connector, unique_name  # noqa: E402
from vecbridge.connectors import ThreadedConnector  # noqa: E402
from vecbridge.integrations.langchain import VecbridgeVectorStore  # noqa: E402


class _Suite(VectorStoreIntegrationTests):
    """The standard suite on a fresh collection per test, on ``lc_connector``'s backend; the metric
    is left to the index (``metric=None``: chosen from the encoder; the fake embeddings are not
    unit-length, so COSINE)."""

    backend: str
    async_index: bool = False

    @pytest.fixture(scope="class")
    @classmethod
    def lc_connector(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
        connector = open_connector(cls.backend, tmp_path_factory.mktemp(f"lcstd-{cls.backend}"))
        yield connector
        connector.close()  # type: ignore[attr-defined]

    @pytest.fixture
    def vectorstore(self, request: pytest.FixtureRequest, lc_connector: object) -> Iterator[VecbridgeVectorStore]:
        name = unique_name(request, "lcstd")
        if lc_connector.has_collection(name):  # type: ignore[attr-defined]
            lc_connector.drop_collection(name)  # type: ignore[attr-defined]
        async_connector = ThreadedConnector(lc_connector) if self.async_index else None
        store = VecbridgeVectorStore.create(lc_connector, name, self.get_embeddings(), async_connector=async_connector)
        assert (store.async_index is not None) is self.async_index
        try:
            yield store
        finally:
            store.index.close()
            lc_connector.drop_collection(name)  # type: ignore[attr-defined]


class TestMilvusLite(_Suite):
    backend = "milvus-lite"


class TestElasticsearchEmulator(_Suite):
    backend = "es-emulator"


class TestMilvusLiteAsyncIndex(_Suite):
    backend = "milvus-lite"
    async_index = True


class TestElasticsearchEmulatorAsyncIndex(_Suite):
    backend = "es-emulator"
    async_index = True
