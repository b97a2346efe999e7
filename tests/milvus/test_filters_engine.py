"""Engine round-trip: compiled expressions parse back exactly in Milvus Lite, for nasty values."""

from __future__ import annotations

import numpy as np
import pytest

from connectors.milvus import MilvusConnector
from schemas import CollectionSpec, Document, IndexBatch, ScalarType
from schemas.filters import eq, is_in, not_in

VALUES = [
    'say "hi"', "back\\slash", "trailing\\", '\\"', '\\\\"', "it's", "'single'", 'a" or id != "',
    '" || true || "', "x\ty", "\\n literal", "\\u0041", "ünï😀", "[1, 2]", "(", "", " ", "a\x01b", "\u2028",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    connector = MilvusConnector(str(tmp_path_factory.mktemp("engine") / "m.db"))
    spec = CollectionSpec(name="nasty", dense_dim=2, sparse_fields=(), filterable={"s": ScalarType.STRING})
    connector.ensure_collection(spec)
    docs = [Document(id=f"id-{i}", text=v, metadata={"s": v}) for i, v in enumerate(VALUES)]
    connector.upsert("nasty", IndexBatch(documents=docs, dense=np.ones((len(docs), 2))))
    yield connector, docs
    connector.close()


@pytest.mark.parametrize("index", range(len(VALUES)))
def test_equality_round_trips(store, index):
    connector, docs = store
    assert connector.count("nasty", eq("s", VALUES[index])) == 1
    hits = connector.search_dense("nasty", np.ones(2), 50, filter=eq("s", VALUES[index]))
    assert [h.id for h in hits] == [docs[index].id]


def test_membership_and_ids_round_trip(store):
    connector, docs = store
    assert connector.count("nasty", is_in("s", VALUES)) == len(VALUES)
    assert connector.count("nasty", not_in("s", VALUES[:5])) == len(VALUES) - 5
    ids = [d.id for d in docs]
    assert [d.id for d in connector.get("nasty", ids[::-1])] == ids[::-1]
