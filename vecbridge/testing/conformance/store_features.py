"""Conformance: reads with vectors, iteration over a collection, delete-all (issue 12 store features)."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.schemas import ConfigurationError, Document, StoredDocument, matches, parse_filter, validate_filter
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import make_corpus, spec

DIM = 32


def _filter(raw, collection_name):
    return validate_filter(parse_filter(raw), spec(collection_name, DIM))


def _assert_vectors(doc, corpus, row):
    assert isinstance(doc, StoredDocument)
    assert doc.dense is not None and len(doc.dense) == DIM
    np.testing.assert_allclose(doc.dense, corpus.dense[row], rtol=1e-6, atol=1e-7)
    stored = doc.sparse["sparse"]
    np.testing.assert_array_equal(stored.indices, corpus.sparse[row].indices)
    np.testing.assert_allclose(stored.values, corpus.sparse[row].values, rtol=1e-6)


class StoreFeatureTests(ConformanceBase):
    """Reads with vectors, iteration over a collection, delete-all."""

    def test_get_with_vectors_returns_what_was_written(self, connector, collection_name):
        corpus = make_corpus(40, DIM, seed=5)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch())
        ids = ["doc-7", "absent", "doc-3"]
        plain = connector.get(collection_name, ids)
        assert [d.id for d in plain] == ["doc-7", "doc-3"] and not any(isinstance(d, StoredDocument) for d in plain)
        docs = connector.get(collection_name, ids, with_vectors=True)
        assert [d.id for d in docs] == ["doc-7", "doc-3"]
        for doc, row in zip(docs, (7, 3), strict=True):
            _assert_vectors(doc, corpus, row)
            assert doc.text == corpus.documents[row].text and doc.metadata == corpus.documents[row].metadata
            assert Document.model_validate(doc.model_dump(include={"id", "text", "metadata"})) == corpus.documents[row]

    def test_iterate_yields_every_document_once_in_batches(self, connector, collection_name):
        corpus = make_corpus(2500, DIM, seed=6)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch())
        batches = list(connector.iterate(collection_name, batch_size=300))
        assert all(0 < len(b) <= 300 for b in batches) and len(batches) >= 9
        ids = [d.id for b in batches for d in b]
        assert len(ids) == len(set(ids)) == 2500
        by_id = {d.id: d for d in corpus.documents}
        assert all(d == by_id[d.id] for b in batches for d in b)

    def test_iterate_honours_the_filter_and_returns_vectors(self, connector, collection_name):
        corpus = make_corpus(700, DIM, seed=7)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch())
        flt = _filter(
            {"all": [{"key": "year", "op": ">=", "value": 2005}, {"key": "flag", "op": "==", "value": False}]},
            collection_name,
        )
        expected = {d.id for d in corpus.documents if matches(flt, d.metadata)}
        assert 0 < len(expected) < 700
        seen = [d for b in connector.iterate(collection_name, filter=flt, batch_size=64, with_vectors=True) for d in b]
        assert sorted(d.id for d in seen) == sorted(expected)
        row = {d.id: i for i, d in enumerate(corpus.documents)}
        for doc in seen[:20]:
            _assert_vectors(doc, corpus, row[doc.id])
        assert (
            list(
                connector.iterate(
                    collection_name, filter=_filter({"key": "year", "op": ">", "value": 3000}, collection_name)
                )
            )
            == []
        )

    def test_writes_during_iteration_do_not_duplicate_existing_documents(self, connector, collection_name):
        corpus = make_corpus(1000, DIM, seed=8)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.upsert(collection_name, corpus.batch(range(900)))
        seen: list[str] = []
        for n, batch in enumerate(connector.iterate(collection_name, batch_size=150)):
            seen += [d.id for d in batch]
            if n == 1:  # rewrite documents already seen and not yet seen, and add new ones
                connector.upsert(collection_name, corpus.batch([*range(0, 900, 7), *range(900, 1000)]))
        assert len(seen) == len(set(seen)), "a document came twice"
        assert {f"doc-{i}" for i in range(900)} <= set(seen)
        assert set(seen) <= {f"doc-{i}" for i in range(1000)}

    def test_iterate_rejects_bad_batch_size(self, connector, collection_name):
        connector.ensure_collection(spec(collection_name, DIM))
        for bad in (0, -1, 10**6, 2.5):
            with pytest.raises(ConfigurationError, match="batch_size"):
                list(connector.iterate(collection_name, batch_size=bad))

    def test_delete_all_keeps_collection_and_state(self, connector, collection_name):
        corpus = make_corpus(120, DIM, seed=9)
        connector.ensure_collection(spec(collection_name, DIM))
        connector.write_state(collection_name, {"models": {"dense": "x"}})
        connector.upsert(collection_name, corpus.batch())
        assert connector.delete_all(collection_name) == 120
        assert connector.count(collection_name) == 0
        assert connector.has_collection(collection_name)
        assert connector.read_state(collection_name) == {"models": {"dense": "x"}}
        assert connector.delete_all(collection_name) == 0
        connector.upsert(collection_name, corpus.batch(range(5)))
        assert connector.count(collection_name) == 5
        assert [d.id for d in connector.get(collection_name, ["doc-4"])] == ["doc-4"]
