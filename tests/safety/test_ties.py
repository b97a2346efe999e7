"""Exactly tied scores come back in id order, in single modes as in fusion, whatever order the store uses."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.facade.fakes import InMemoryConnector, PrecomputedEncoder
from vecbridge import HybridIndex
from vecbridge.schemas import Document, Hit, SparseVector

# 12 documents with one identical vector ("same"), written in scrambled id order, plus 3 others.
TIED = [f"t{i:02d}" for i in (7, 3, 11, 0, 9, 5, 1, 10, 2, 8, 6, 4)]
OTHER = ["o1", "o2", "o3"]


def encoder() -> PrecomputedEncoder:
    enc = PrecomputedEncoder(dense_dim=4, sparse_vocab_size=8)
    enc.table["same"] = (np.array([1, 0, 0, 0], np.float32), SparseVector.from_dict({1: 1.0}))
    enc.table["weak"] = (np.array([0, 1, 0, 0], np.float32), SparseVector.from_dict({2: 1.0}))
    enc.table["query"] = enc.table["same"]
    return enc


def documents() -> list[Document]:
    return [Document(id=i, text="same") for i in TIED] + [Document(id=i, text="weak") for i in OTHER]


class ReversedTiesConnector(InMemoryConnector):
    """Brute force that hands tied hits back in descending id order (a store's arbitrary order)."""

    def _top(self, collection, score, k, filter, positive_only=False):
        hits = super()._top(collection, score, 10**6, filter, positive_only)
        hits = sorted(sorted(hits, key=lambda h: h.id, reverse=True), key=lambda h: -h.score)
        return hits[:k]


def check(index: HybridIndex) -> None:
    want = sorted(TIED)
    for mode in ("dense", "sparse", "hybrid"):
        for k in (1, 5, 12, 15):
            hits: list[Hit] = index.search("query", k=k, mode=mode)
            assert [h.id for h in hits][: min(k, 12)] == want[:k], (mode, k)
            if mode != "hybrid":
                assert [h.ranks[mode] for h in hits] == list(range(1, len(hits) + 1))
    # a small fusion window cuts through the tie: the lowest ids make it in
    assert [h.id for h in index.search("query", k=3, window=4)] == want[:3]


def test_ties_come_in_id_order_whatever_the_store_order():
    index = HybridIndex.create(ReversedTiesConnector(), "ties", dense=encoder(), sparse=encoder())
    assert index.upsert(documents()).written == 15
    check(index)


@pytest.mark.skipif(importlib.util.find_spec("milvus_lite") is None, reason="needs milvus-lite")
def test_ties_come_in_id_order_on_milvus_lite(tmp_path):
    from vecbridge.connectors.milvus import MilvusConnector

    connector = MilvusConnector(str(tmp_path / "ties.db"))
    try:
        index = HybridIndex.create(connector, "ties", dense=encoder(), sparse=encoder(), batch_size=4)
        assert index.upsert(documents()).written == 15
        check(index)
    finally:
        connector.close()
