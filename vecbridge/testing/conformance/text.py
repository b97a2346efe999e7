"""Conformance: the store's own full-text BM25 (``search_text``) against vecbridge's BM25 with the
same analysis, with filters, and with statistics that follow inserts and deletes.

Reference: ``vecbridge.encoders.bm25.BM25Encoder`` (Lucene idf, k1 1.2, b 0.75, which are Milvus's BM25
defaults) refitted on exactly the documents the store holds, with the analyzer that reproduces the
store's (``REFERENCE_ANALYZERS``). Milvus's ``english`` analyzer is the standard tokenizer, lowercase,
Lucene's English stop words and the Snowball English stemmer; ``standard`` is the tokenizer and
lowercase only. Scores must agree within ``TEXT_TOL`` (relative): Milvus sums float32 weights.
The corpus is ASCII: Milvus does not NFKC-normalize (full-width letters stay distinct), vecbridge does.
"""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.tokenize import Analyzer
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionSpec,
    ConfigurationError,
    Document,
    IndexBatch,
    ScalarType,
    UnsupportedOperationError,
)
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import assert_topk

TEXT_TOL = 1e-4
K = 10
REFERENCE_ANALYZERS = {
    "english": Analyzer(stemmer="english", stop_words="lucene"),
    "standard": Analyzer(stemmer=None, stop_words="none"),
}
WORDS = (
    "insulin diabetes diabetic cell cells running runs runner studies studied study protein proteins gene "
    "genes the a of and in is patients patient treatment treated blood sugar tumor tumour growth rate rates "
    "mouse mice brain heart risk risks it's don't T-cell 2-year"
).split()
QUERIES = [
    "diabetic patients treated with insulin",
    "the running studies",
    "gene expression in mice",
    "tumor growth rates",
    "T-cell protein",
    "risk of heart disease",
]


def corpus(n: int, seed: int, start: int = 0) -> list[Document]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(start, start + n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 25)))
        docs.append(Document(id=f"t{i}", text=" ".join(words).capitalize() + ".", metadata={"year": 2000 + i % 5}))
    return docs


def text_spec(name: str, analyzer: str) -> CollectionSpec:
    return CollectionSpec(
        name=name, dense_dim=None, sparse_fields=(), filterable={"year": ScalarType.INT}, text_analyzer=analyzer
    )


def reference(docs: list[Document], analyzer: str, query: str, eligible=None) -> dict[str, float]:
    encoder = BM25Encoder(k1=1.2, b=0.75, analyzer=REFERENCE_ANALYZERS[analyzer]).fit([d.text for d in docs])
    queries, rows = encoder.encode_queries([query]).sparse, encoder.encode_documents([d.text for d in docs]).sparse
    assert queries is not None and rows is not None, "BM25Encoder emits sparse vectors"
    scores = {d.id: queries[0].dot(v) for d, v in zip(docs, rows, strict=True)}
    return {i: s for i, s in scores.items() if s > 0 and (eligible is None or eligible(i))}


def _skip_unless(backend, analyzer: str) -> None:
    if analyzer not in backend.text_analyzers:
        pytest.skip(f"{backend.name}: no full-text index with text_analyzer={analyzer!r} (see Backend.text_analyzers)")


def _write(connector, name: str, docs: list[Document]) -> None:
    assert connector.upsert(name, IndexBatch(documents=docs)) == len(docs)


def _parse(value, name):
    from vecbridge.schemas import parse_filter, validate_filter

    return validate_filter(parse_filter(value), text_spec(name, "english"))


class TextSearchTests(ConformanceBase):
    """The store's own full-text BM25 against vecbridge's BM25 with the same analysis."""

    @pytest.mark.parametrize("analyzer", ["english", "standard"])
    def test_text_search_equals_reference_bm25(self, backend, connector, collection_name, analyzer):
        _skip_unless(backend, analyzer)
        docs = corpus(120, seed=11)
        connector.ensure_collection(text_spec(collection_name, analyzer))
        _write(connector, collection_name, docs)
        for query in QUERIES:
            truth = reference(docs, analyzer, query)
            assert truth, query
            assert_topk(connector.search_text(collection_name, query, K), truth, K, tol=TEXT_TOL)
        assert connector.search_text(collection_name, "zebra", K) == []
        if analyzer == "english":  # only stop words: no terms, no hits
            assert connector.search_text(collection_name, "the of", K) == []

    def test_stemming_follows_the_analyzer(self, backend, connector, collection_name):
        _skip_unless(backend, "english")
        connector.ensure_collection(text_spec(collection_name, "english"))
        _write(
            connector,
            collection_name,
            [
                Document(id="s", text="Researchers studied running mice", metadata={"year": 1}),
                Document(id="o", text="Other words entirely", metadata={"year": 1}),
            ],
        )
        assert [h.id for h in connector.search_text(collection_name, "studies run mouse", K)] == ["s"]

    def test_text_search_honours_filters(self, backend, connector, collection_name):
        _skip_unless(backend, "english")
        docs = corpus(120, seed=12)
        connector.ensure_collection(text_spec(collection_name, "english"))
        _write(connector, collection_name, docs)
        year = {d.id: d.metadata["year"] for d in docs}
        flt = {"all": [{"key": "year", "op": ">=", "value": 2002}, {"key": "year", "op": "!=", "value": 2004}]}
        for query in QUERIES[:3]:
            # statistics come from the whole collection; the filter only restricts which documents rank
            truth = reference(docs, "english", query, eligible=lambda i: year[i] in (2002, 2003))
            hits = connector.search_text(collection_name, query, K, filter=_parse(flt, collection_name))
            assert hits and all(year[h.id] in (2002, 2003) for h in hits)
            assert_topk(hits, truth, K, tol=TEXT_TOL)

    def test_statistics_follow_inserts_and_deletes(self, backend, connector, collection_name):
        _skip_unless(backend, "english")
        query = "insulin treatment"
        docs = corpus(60, seed=13)
        connector.ensure_collection(text_spec(collection_name, "english"))
        _write(connector, collection_name, docs)
        before = {h.id: h.score for h in connector.search_text(collection_name, query, 200)}
        assert_topk(
            list(connector.search_text(collection_name, query, K)), reference(docs, "english", query), K, tol=TEXT_TOL
        )

        added = [
            Document(id=f"n{i}", text="insulin insulin insulin treatment", metadata={"year": 2000}) for i in range(20)
        ]
        _write(connector, collection_name, added)  # "insulin" becomes common: its idf (and every old score) drops
        after_insert = {h.id: h.score for h in connector.search_text(collection_name, query, 200)}
        assert_topk(
            connector.search_text(collection_name, query, K), reference(docs + added, "english", query), K, tol=TEXT_TOL
        )
        old = [i for i in before if i in after_insert]
        assert old and all(after_insert[i] < before[i] for i in old)

        gone = [d.id for d in docs if "insulin" in d.text.lower()][:5] + [d.id for d in added[:15]]
        assert connector.delete(collection_name, ids=gone) == len(gone)
        kept = [d for d in docs + added if d.id not in set(gone)]
        after_delete = connector.search_text(collection_name, query, 200)
        assert not {h.id for h in after_delete} & set(gone)
        assert_topk(after_delete[:K], reference(kept, "english", query), K, tol=TEXT_TOL)
        assert any(abs(h.score - after_insert[h.id]) > 1e-3 for h in after_delete)

    def test_chinese_analyzer_segments_words(self, backend, connector, collection_name):
        _skip_unless(backend, "chinese")
        connector.ensure_collection(text_spec(collection_name, "chinese"))
        texts = {
            "river": "长江是中国最长的河流，全长约六千三百公里。",
            "capital": "北京是中国的首都，有很多历史古迹。",
            "volcano": "火山喷发是由于岩浆从地壳裂缝中上升。",
        }
        _write(connector, collection_name, [Document(id=i, text=t, metadata={"year": 1}) for i, t in texts.items()])
        assert connector.search_text(collection_name, "中国最长的河流是哪条？", K)[0].id == "river"
        assert [h.id for h in connector.search_text(collection_name, "岩浆", K)] == ["volcano"]

    def test_text_analyzer_is_verified_on_reopen(self, backend, connector_factory, collection_name):
        _skip_unless(backend, "english")
        with_dense = text_spec(collection_name, "english").model_copy(update={"dense_dim": 4})
        connector = connector_factory()
        connector.ensure_collection(with_dense)
        connector.close()
        reopened = connector_factory()
        reopened.ensure_collection(with_dense)  # same: fine
        for analyzer in ("standard", None):
            with pytest.raises(CollectionMismatchError, match="text_analyzer"):
                reopened.ensure_collection(with_dense.model_copy(update={"text_analyzer": analyzer}))

    def test_without_a_full_text_index(self, backend, connector, collection_name):
        if not backend.text_analyzers:
            pytest.skip(f"{backend.name}: no CollectionSpec.text_analyzer setting (Backend.text_analyzers is empty)")
        connector.ensure_collection(CollectionSpec(name=collection_name, dense_dim=4, sparse_fields=()))
        with pytest.raises(UnsupportedOperationError, match="text_analyzer"):
            connector.search_text(collection_name, "anything", K)
        with pytest.raises(ConfigurationError, match="text_analyzer='klingon'.*english"):
            connector.ensure_collection(text_spec(collection_name + "_x", "klingon"))
