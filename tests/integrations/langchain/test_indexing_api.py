"""LangChain's indexing API (``langchain_core.indexing.index``, the anchor of ``index.sync``) runs
over vecbridge's LangChain adapter: it passes ``batch_size`` to ``add_documents``."""

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document as LCDocument  # noqa: E402
from langchain_core.indexing import InMemoryRecordManager, index  # noqa: E402

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector  # noqa: E402
from vecbridge import HybridIndex  # noqa: E402
from vecbridge.integrations.langchain import VecbridgeVectorStore  # noqa: E402


def test_index_with_full_cleanup_adds_skips_and_deletes_through_the_adapter():
    store = VecbridgeVectorStore(HybridIndex.create(InMemoryConnector(), "lc", dense=BagOfWordsEncoder()))
    manager = InMemoryRecordManager(namespace="lc")
    manager.create_schema()
    docs = [LCDocument(page_content=f"text {i}", metadata={"source": "s"}) for i in range(5)]
    first = index(docs, manager, store, cleanup="full", key_encoder="sha256")
    again = index(docs[:3], manager, store, cleanup="full", key_encoder="sha256")
    assert (first["num_added"], again["num_skipped"], again["num_deleted"]) == (5, 3, 2)
    assert store.index.count() == 3
