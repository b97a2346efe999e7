"""Conformance: searches without content (``content=False``: ids and scores only) and the facade's
fused search that reads text and metadata once for its final hits (``HybridIndex.late_content``).

Every backend whose connector declares ``SEARCH_WITHOUT_CONTENT`` must (1) return the
same ids in the same order with the same scores with and without content, the bare hits carrying
no text and no metadata, and (2) give fused hits equal in every field (id, score, text, metadata,
ranks, scores, retrievers) whether the retrievers fetch content or the facade fetches it after fusion.
"""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge import HybridIndex, Retriever
from vecbridge.connectors.base import supports_search_without_content
from vecbridge.encoders import OutputKind
from vecbridge.index import RetrieverKind
from vecbridge.schemas import Document, IndexBatch, UnsupportedOperationError, parse_filter, validate_filter
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import make_corpus, random_sparse, spec
from vecbridge.testing.encoders import PrecomputedEncoder

N, DIM, VOCAB, K = 300, 32, 200, 10
WORDS = "insulin diabetes cell protein gene patients treatment blood tumor growth mouse brain heart risk".split()


def _documents(n: int, seed: int) -> tuple[list[Document], np.ndarray, list]:
    """The conformance corpus with longer, distinct texts (words a text search can find)."""
    corpus = make_corpus(n, DIM, seed=seed, vocab=VOCAB)
    rng = np.random.default_rng(seed)
    docs = [
        d.model_copy(update={"text": f"{d.text}: " + " ".join(rng.choice(WORDS, size=int(rng.integers(2, 12))))})
        for d in corpus.documents
    ]
    return docs, corpus.dense, corpus.sparse


def _text_search_works(connector, name: str) -> bool:
    try:
        connector.search_text(name, "insulin", 1)
    except UnsupportedOperationError:
        return False
    return True


def _skip_unless_declared(backend) -> None:
    if not backend.search_without_content:
        pytest.skip(f"{backend.name}: the connector does not declare SEARCH_WITHOUT_CONTENT")


def _same(bare, full) -> None:
    assert [(h.id, h.score) for h in bare] == [(h.id, h.score) for h in full]
    assert all(h.text == "" and h.metadata == {} for h in bare)
    assert full and all(h.text for h in full)


class ContentTests(ConformanceBase):
    """Searches without content and the facade's late content reads."""

    def test_search_without_content_returns_the_same_ids_and_scores(self, backend, connector, collection_name):
        assert supports_search_without_content(connector) is backend.search_without_content
        _skip_unless_declared(backend)
        analyzer = backend.text_analyzers[0] if backend.text_analyzers else None
        docs, dense, sparse = _documents(N, seed=21)
        connector.ensure_collection(spec(collection_name, DIM, text_analyzer=analyzer))
        assert (
            connector.upsert(collection_name, IndexBatch(documents=docs, dense=dense, sparse={"sparse": sparse})) == N
        )
        rng = np.random.default_rng(22)
        flt = validate_filter(parse_filter({"key": "year", "op": ">=", "value": 2005}), spec(collection_name, DIM))
        for filter_ in (None, flt):
            query = rng.standard_normal(DIM).astype(np.float32)
            _same(
                connector.search_dense(collection_name, query, K, filter_, content=False),
                connector.search_dense(collection_name, query, K, filter_),
            )
            query = random_sparse(rng, VOCAB, 10, 30)
            _same(
                connector.search_sparse(collection_name, query, K, filter_, field="sparse", content=False),
                connector.search_sparse(collection_name, query, K, filter_, field="sparse"),
            )
            if _text_search_works(connector, collection_name):
                _same(
                    connector.search_text(collection_name, "insulin tumor growth", K, filter_, content=False),
                    connector.search_text(collection_name, "insulin tumor growth", K, filter_),
                )

    def test_fused_hits_carry_the_same_content_as_when_retrievers_fetch_it(self, backend, connector, collection_name):
        _skip_unless_declared(backend)
        analyzer = backend.text_analyzers[0] if backend.text_analyzers else None
        docs, dense, sparse = _documents(N, seed=31)
        encoder = PrecomputedEncoder(DIM, VOCAB)
        for doc, d, s in zip(docs, dense, sparse, strict=True):
            encoder.table[doc.text] = (d, s)
        rng = np.random.default_rng(32)
        queries = [f"{WORDS[j % len(WORDS)]} {WORDS[(3 * j + 1) % len(WORDS)]}" for j in range(6)]
        for q in queries:
            encoder.table[q] = (rng.standard_normal(DIM).astype(np.float32), random_sparse(rng, VOCAB, 10, 30))
        collection = spec(collection_name, DIM, text_analyzer=analyzer)
        retrievers = [
            Retriever("dense", encoder, OutputKind.DENSE, "dense"),
            Retriever("sparse", encoder, OutputKind.SPARSE, "sparse"),
        ]
        index = HybridIndex(connector, collection, retrievers)
        assert index.upsert(docs).written == N
        if _text_search_works(connector, collection_name):
            retrievers.append(Retriever("text", None, RetrieverKind.TEXT, "text"))
            index = HybridIndex(connector, collection, retrievers)
        assert index.late_content
        variants = [
            {},
            {"filter": {"key": "year", "op": "<", "value": 2010}},
            {"weights": {"dense": 2.0}, "window": 30},
            {"method": "linear", "k": 25},
        ]
        try:
            for options in variants:
                options = {"k": K, **options}
                index.late_content = True
                late = index.search_batch(queries, **options)
                index.late_content = False
                inline = index.search_batch(queries, **options)
                assert [[h.model_dump() for h in hits] for hits in late] == [
                    [h.model_dump() for h in hits] for hits in inline
                ]
                assert all(len(hits) == options["k"] for hits in late)
                assert all(h.text.startswith("text ") and "genre" in h.metadata for hits in late for h in hits)
        finally:
            index.close()
