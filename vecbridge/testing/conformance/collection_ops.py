"""Conformance: collections, writes, reads and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionNotFoundError,
    CollectionSpec,
    Condition,
    Document,
    IndexBatch,
    Metric,
    Not,
    ScalarType,
    SparseVector,
)
from vecbridge.schemas.filters import eq, is_in, ne
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import make_corpus, spec


class CollectionTests(ConformanceBase):
    """Collections, writes, reads and persistence."""

    def test_create_then_verify_same_spec(self, connector, collection_name):
        connector.ensure_collection(spec(collection_name))
        assert connector.has_collection(collection_name)
        connector.ensure_collection(spec(collection_name))  # existing and equal: no error
        assert connector.count(collection_name) == 0

    @pytest.mark.parametrize(
        "change, field",
        [
            ({"dense_dim": 16}, "dense_dim"),
            ({"metric": Metric.L2}, "metric"),
            ({"sparse_fields": ("sparse", "splade")}, "sparse_fields"),
            ({"filterable": {"genre": ScalarType.INT}}, "filterable"),
        ],
    )
    def test_mismatch_names_field(self, connector, collection_name, change, field):
        base = spec(collection_name)
        connector.ensure_collection(base)
        other = CollectionSpec(**{**base.model_dump(), **change})
        with pytest.raises(CollectionMismatchError, match=field):
            connector.ensure_collection(other)

    def test_missing_collection_raises(self, connector):
        assert not connector.has_collection("vbconf_absent")
        with pytest.raises(CollectionNotFoundError):
            connector.count("vbconf_absent")

    def test_drop_collection(self, connector, collection_name):
        connector.ensure_collection(spec(collection_name))
        connector.drop_collection(collection_name)
        assert not connector.has_collection(collection_name)

    def test_upsert_twice_no_duplicates_and_replaces(self, connector, collection_name):
        corpus = make_corpus(50)
        connector.ensure_collection(spec(collection_name))
        assert connector.upsert(collection_name, corpus.batch()) == 50
        assert connector.upsert(collection_name, corpus.batch()) == 50
        assert connector.count(collection_name) == 50

        old = corpus.documents[7]
        new_doc = Document(id=old.id, text="replaced", metadata={**old.metadata, "genre": "new", "year": 3000})
        new_dense = -corpus.dense[7:8]
        new_sparse = SparseVector(indices=[299], values=[5.0])
        batch = IndexBatch(documents=[new_doc], dense=new_dense, sparse={"sparse": [new_sparse]})
        connector.upsert(collection_name, batch)
        assert connector.count(collection_name) == 50
        assert connector.get(collection_name, [old.id]) == [new_doc]
        assert connector.count(collection_name, eq("genre", "new")) == 1
        top = connector.search_dense(collection_name, new_dense[0], 1)
        assert top[0].id == old.id and top[0].text == "replaced"
        assert connector.search_sparse(collection_name, new_sparse, 1)[0].id == old.id

    def test_get_order_and_missing(self, connector, collection_name):
        corpus = make_corpus(20)
        connector.ensure_collection(spec(collection_name))
        connector.upsert(collection_name, corpus.batch())
        docs = connector.get(collection_name, ["doc-5", "nope", "doc-1", "doc-19"])
        assert [d.id for d in docs] == ["doc-5", "doc-1", "doc-19"]
        assert docs == [corpus.documents[5], corpus.documents[1], corpus.documents[19]]
        assert connector.get(collection_name, []) == []

    def test_delete_by_ids_filter_and_both(self, connector, collection_name):
        corpus = make_corpus(60)
        connector.ensure_collection(spec(collection_name))
        connector.upsert(collection_name, corpus.batch())
        assert connector.delete(collection_name, ids=["doc-0", "doc-1", "missing"]) == 2
        assert connector.count(collection_name) == 58
        assert connector.get(collection_name, ["doc-0", "doc-1"]) == []

        by_filter = eq("genre", 'say "hi"')
        expected = [d.id for d in corpus.documents[2:] if d.metadata["genre"] == 'say "hi"']
        assert connector.delete(collection_name, filter=by_filter) == len(expected)
        assert connector.count(collection_name, by_filter) == 0

        both = connector.delete(collection_name, ids=["doc-2"], filter=is_in("year", [1993]))
        remaining = [d for d in corpus.documents[2:] if d.metadata["genre"] != 'say "hi"']
        gone = [d for d in remaining if d.id == "doc-2" or d.metadata["year"] == 1993]
        assert both == len(gone)
        assert connector.count(collection_name) == len(remaining) - len(gone)

    def test_count_with_and_without_filter(self, connector, collection_name):
        corpus = make_corpus(90)
        connector.ensure_collection(spec(collection_name))
        connector.upsert(collection_name, corpus.batch())
        assert connector.count(collection_name) == 90
        assert connector.count(collection_name, eq("flag", True)) == 30

    def test_missing_filterable_key(self, connector, collection_name):
        """Every backend stores documents lacking filterable keys; a missing key reads as None."""
        connector.ensure_collection(spec(collection_name))
        docs = [
            Document(id="no-year", text="t", metadata={"genre": "g", "price": 1.0, "flag": True}),
            Document(id="null-year", text="t", metadata={"year": None}),
            Document(id="year", text="t", metadata={"year": 2000, "when": "2001-01-01T00:00:00Z"}),
        ]
        batch = IndexBatch(
            documents=docs, dense=np.ones((3, 32)), sparse={"sparse": [SparseVector(indices=[1], values=[1])] * 3}
        )
        assert connector.upsert(collection_name, batch) == 3
        assert connector.count(collection_name) == 3
        assert connector.count(collection_name, eq("year", 2000)) == 1
        assert connector.count(collection_name, ne("year", 2000)) == 2
        assert connector.count(collection_name, eq("year", None)) == 2
        assert connector.count(collection_name, ne("year", None)) == 1
        assert connector.count(collection_name, eq("genre", "")) == 0  # "" is Milvus' placeholder: not a match
        assert connector.count(collection_name, eq("flag", False)) == 0
        assert connector.count(collection_name, Condition(key="price", op="<", value=5)) == 1
        assert connector.count(collection_name, Not(operand=Condition(key="price", op="<", value=5))) == 2
        assert connector.count(collection_name, Condition(key="when", op=">", value="2000-12-31")) == 1
        assert {d.id: d.metadata for d in connector.get(collection_name, ["no-year", "null-year"])} == {
            "no-year": docs[0].metadata,
            "null-year": {"year": None},
        }

    def test_metadata_of_any_json_shape_round_trips(self, connector, collection_name):
        """Nested objects and lists, dotted and non-identifier keys, nulls: stored and returned unchanged."""
        connector.ensure_collection(spec(collection_name))
        metadata = {
            "source.file": "a/b.txt",
            "nested": {"x": [1, {"y": None, "z": [True, 2.5]}], "k-2": "v"},
            "list": [{"a": 1}, [], "s"],
            "genre": "g",
            "n/a key": None,
            "year": 7,
            "ünï": "😀",
        }
        doc = Document(id="j", text="t", metadata=metadata)
        batch = IndexBatch(
            documents=[doc], dense=np.ones((1, 32)), sparse={"sparse": [SparseVector(indices=[1], values=[1])]}
        )
        connector.upsert(collection_name, batch)
        (got,) = connector.get(collection_name, ["j"])
        assert got.metadata == metadata
        assert connector.count(collection_name, eq("year", 7)) == 1
        (hit,) = connector.search_dense(collection_name, np.ones(32, np.float32), 1, filter=eq("genre", "g"))
        assert hit.metadata == metadata

    def test_reopen_persists(self, connector_factory, collection_name):
        corpus = make_corpus(30)
        first = connector_factory()
        first.ensure_collection(spec(collection_name))
        first.upsert(collection_name, corpus.batch())
        first.close()
        second = connector_factory()
        assert second.has_collection(collection_name)
        assert second.count(collection_name) == 30
        assert second.get(collection_name, ["doc-3"]) == [corpus.documents[3]]
        second.ensure_collection(spec(collection_name))
        assert second.search_dense(collection_name, corpus.dense[3], 1)[0].id == "doc-3"

    def test_empty_collection_search(self, connector, collection_name):
        connector.ensure_collection(spec(collection_name))
        query = np.ones(32, dtype=np.float32)
        assert connector.search_dense(collection_name, query, 5) == []
        assert connector.search_sparse(collection_name, SparseVector(indices=[1], values=[1.0]), 5) == []
        assert connector.count(collection_name) == 0
