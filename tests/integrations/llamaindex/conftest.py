"""A ``VecbridgeVectorStore`` on a Milvus Lite file, with the bag-of-words test encoder (dense + sparse)
and the store's own BM25 ``text`` retriever."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("milvus_lite")

from tests.facade.fakes import BagOfWordsEncoder

FILTERABLE = {"year": "int", "lang": "string"}


def open_store(path: Path, encoder: BagOfWordsEncoder):
    from vecbridge import MilvusConnector
    from vecbridge.integrations.llamaindex import VecbridgeVectorStore

    return VecbridgeVectorStore.create(
        MilvusConnector(uri=str(path / "li.db")),
        "li",
        dense=encoder,
        sparse=encoder,
        text=True,
        text_analyzer="english",
        filterable=FILTERABLE,
    )


@pytest.fixture
def encoder() -> BagOfWordsEncoder:
    return BagOfWordsEncoder()


@pytest.fixture
def store(tmp_path, encoder):
    store = open_store(tmp_path, encoder)
    yield store
    store.index.connector.close()
