"""Several connectors on one Milvus Lite file in one process: closing one leaves the others working;
the last close stops the embedded server (so another process may open the file)."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("milvus_lite")

from milvus_lite.server_manager import server_manager_instance  # noqa: E402

from tests.facade.fakes import BagOfWordsEncoder  # noqa: E402
from vecbridge import HybridIndex  # noqa: E402
from vecbridge.connectors.milvus import AsyncMilvusConnector, MilvusConnector, lite  # noqa: E402
from vecbridge.schemas import Document  # noqa: E402


def _running(path) -> bool:
    return str(path.resolve()) in server_manager_instance._servers


def _connector(path) -> MilvusConnector:
    return MilvusConnector(str(path), retry_attempts=1, retry_max_wait=1)  # a stopped server fails at once


def test_closing_one_of_two_connectors_leaves_the_other_working(tmp_path):
    path = tmp_path / "shared.db"
    c1, c2 = _connector(path), _connector(path)
    index1 = HybridIndex.create(c1, "shared", dense=BagOfWordsEncoder())
    index2 = HybridIndex.create(c2, "shared", dense=BagOfWordsEncoder())
    index2.upsert([Document(id="a", text="alpha")])
    c2.close()
    assert index1.count() == 1 and [d.id for d in index1.get(["a"])] == ["a"]
    index1.upsert([Document(id="b", text="beta")])
    assert _running(path) and lite.users(str(path)) == 1
    c1.close()
    assert not _running(path) and lite.users(str(path)) == 0
    with _connector(path) as c3:  # the file opens again afterwards
        assert HybridIndex.create(c3, "shared", dense=BagOfWordsEncoder()).count() == 2


def test_async_and_sync_connectors_share_a_file(tmp_path):
    path = tmp_path / "mixed.db"
    sync = _connector(path)
    index = HybridIndex.create(sync, "mixed", dense=BagOfWordsEncoder())
    index.upsert([Document(id="a", text="alpha")])

    async def use_and_close_async() -> int:
        connector = AsyncMilvusConnector(str(path), retry_attempts=1, retry_max_wait=1)
        try:
            return await connector.count("mixed")
        finally:
            await connector.close()

    assert asyncio.run(use_and_close_async()) == 1
    assert index.count() == 1 and _running(path)
    sync.close()
    assert not _running(path)


def test_concurrent_open_and_close_keep_the_count_exact(tmp_path):
    path = tmp_path / "threads.db"
    keeper = _connector(path)
    index = HybridIndex.create(keeper, "threads", dense=BagOfWordsEncoder())
    index.upsert([Document(id="a", text="alpha")])
    errors: list[BaseException] = []

    def open_use_close() -> None:
        try:
            for _ in range(3):
                with _connector(path) as connector:
                    assert connector.count("threads") == 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_use_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and lite.users(str(path)) == 1 and index.count() == 1
    keeper.close()
    assert not _running(path)


def test_a_langchain_store_and_a_llamaindex_store_on_one_file(tmp_path):
    """The frameworks' stores side by side on one Lite file: closing one leaves the other working."""
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from vecbridge.integrations.langchain import VecbridgeVectorStore as LangChainStore
    from vecbridge.integrations.llamaindex import VecbridgeVectorStore as LlamaIndexStore

    path = tmp_path / "frameworks.db"
    lc = LangChainStore.from_texts(["alpha", "beta"], DeterministicFakeEmbedding(size=8), uri=str(path))
    li_connector = _connector(path)
    li = LlamaIndexStore.create(li_connector, "llama", dense=BagOfWordsEncoder())
    li.add([TextNode(id_="n1", text="gamma", embedding=[1.0] + [0.0] * 31)])
    lc.index.connector.close()
    result = li.query(VectorStoreQuery(query_embedding=[1.0] + [0.0] * 31, similarity_top_k=1))
    assert result.ids == ["n1"] and _running(path)
    li_connector.close()
    assert not _running(path)
