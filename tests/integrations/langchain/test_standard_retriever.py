"""LangChain's own ``RetrieversIntegrationTests`` on ``VecbridgeHybridRetriever`` (hybrid search: a
LangChain fake dense embedding + BM25, fused by RRF), on Milvus Lite and the Elasticsearch emulator.
No standard test is overridden: ``k`` works in the constructor and in ``invoke``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar, Optional

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_tests")

from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from tests.integrations.langchain.conftest import open_connector  # noqa: E402
from vecbridge import HybridIndex  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402
from vecbridge.integrations.langchain import LangChainEmbeddingsEncoder, VecbridgeHybridRetriever  # noqa: E402
from vecbridge.schemas import Document  # noqa: E402

TEXTS = [
    "milvus stores vectors",
    "elasticsearch ranks text",
    "rivers flow to the sea",
    "the sea is salty",
    "hybrid search fuses rankings",
    "vector databases search by similarity",
]


class _Suite(RetrieversIntegrationTests):
    backend: str
    index: ClassVar[Optional[HybridIndex]] = None

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def hybrid_index(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HybridIndex]:
        connector = open_connector(cls.backend, tmp_path_factory.mktemp(f"lcret-{cls.backend}"))
        name = f"lcret_{uuid.uuid4().hex[:12]}"
        dense = LangChainEmbeddingsEncoder(DeterministicFakeEmbedding(size=8))
        cls.index = HybridIndex.create(connector, name, dense=dense, sparse=BM25Encoder().fit(TEXTS))
        cls.index.upsert([Document(id=str(i), text=t) for i, t in enumerate(TEXTS)])
        yield cls.index
        cls.index.close()
        connector.drop_collection(name)
        connector.close()
        cls.index = None

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return VecbridgeHybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": type(self).index}

    @property
    def retriever_query_example(self) -> str:
        return "the sea"


class TestMilvusLite(_Suite):
    backend = "milvus-lite"


class TestElasticsearchEmulator(_Suite):
    backend = "es-emulator"
