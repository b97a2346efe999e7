"""LiveBM25Encoder: hashed terms, idf on the query side, additive statistics."""

from __future__ import annotations

import numpy as np
import pytest

from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.bm25_live import FORMAT_VERSION, LiveBM25Encoder, TermStats, is_live, term_id
from vecbridge.schemas import ConfigurationError

CORPUS = [
    "Insulin regulates blood glucose in diabetes patients.",
    "The pancreas produces insulin and glucagon.",
    "Vector databases store dense embeddings for retrieval.",
    "Sparse retrieval with BM25 ranks documents by term overlap.",
    "Hybrid search fuses dense and sparse rankings.",
    "Blood pressure and heart disease are linked.",
]
QUERIES = ["insulin blood glucose", "dense sparse retrieval", "heart disease pressure", "zebra"]


def scores(encoder, docs, queries) -> np.ndarray:
    d = encoder.encode_documents(docs).sparse
    q = encoder.encode_queries(queries).sparse
    out = np.zeros((len(queries), len(docs)))
    for i, qv in enumerate(q):
        weights = dict(zip(qv.indices.tolist(), qv.values.tolist(), strict=True))
        for j, dv in enumerate(d):
            out[i, j] = sum(
                weights.get(t, 0.0) * w for t, w in zip(dv.indices.tolist(), dv.values.tolist(), strict=True)
            )
    return out


def test_scores_equal_the_fitted_bm25_on_the_same_corpus() -> None:
    live = LiveBM25Encoder().fit(CORPUS)
    frozen = BM25Encoder().fit(CORPUS)
    np.testing.assert_allclose(scores(live, CORPUS, QUERIES), scores(frozen, CORPUS, QUERIES), rtol=1e-5, atol=1e-6)
    assert live.stats.avgdl == pytest.approx(frozen.avgdl) and live.stats.n_docs == frozen.n_docs


def test_new_terms_are_indexed_and_found_once_counted() -> None:
    live = LiveBM25Encoder().fit(CORPUS)
    new = "Zebras graze on the savanna."
    doc = live.encode_documents([new]).sparse[0]
    assert term_id("zebra") in doc.indices.tolist()  # not dropped: the frozen encoder would drop it
    assert live.encode_queries(["zebra"]).sparse[0].indices.size == 0  # no document has it yet
    live.stats = live.stats + live.stats_of([new])
    query = live.encode_queries(["zebra"]).sparse[0]
    assert query.indices.tolist() == [term_id("zebra")] and query.values[0] > 0


def test_term_ids_are_stable_31_bit_and_spread() -> None:
    assert term_id("insulin") == term_id("insulin") != term_id("insulins")
    terms = [f"term{i}" for i in range(20000)]
    ids = {term_id(t) for t in terms}
    assert len(ids) >= len(terms) - 2 and max(ids) < 2**31  # collisions ~ n^2 / 2^32
    assert term_id("bm25") == 282206834  # the term space is part of the stored format: it must not move


def test_stats_are_additive_and_exact() -> None:
    live = LiveBM25Encoder()
    a, b = live.stats_of(CORPUS[:3]), live.stats_of(CORPUS[3:])
    everything = live.stats_of(CORPUS)
    assert a + b == everything and everything - b == a and (everything - everything).empty
    assert TermStats.from_dict(everything.to_dict()) == everything
    broken = a - everything
    with pytest.raises(ConfigurationError, match="negative BM25 statistics.*reindex --sparse"):
        broken.check("collection 'x'")


def test_document_length_normalisation_uses_the_current_avgdl() -> None:
    live = LiveBM25Encoder()
    first = live.encode_documents(["alpha beta"]).sparse[0]  # no statistics: the batch's own avgdl
    live.stats = live.stats_of(["alpha beta gamma delta epsilon zeta"])  # avgdl 6
    later = live.encode_documents(["alpha beta"]).sparse[0]
    assert first.indices.tolist() == later.indices.tolist() and np.all(later.values > first.values)


def test_parameters_round_trip_and_refuse_other_formats() -> None:
    live = LiveBM25Encoder(0.9, 0.4, analyzer="plain", max_length=64)
    params = live.to_dict()
    assert is_live(params) and params["format_version"] == FORMAT_VERSION and "df" not in params
    again = LiveBM25Encoder.from_dict(params)
    assert (again.k1, again.b, again.max_length, again.analyzer_id) == (0.9, 0.4, 64, live.analyzer_id)
    frozen = BM25Encoder().fit(CORPUS).to_dict()
    assert not is_live(frozen)
    with pytest.raises(ConfigurationError, match="format_version=1"):
        LiveBM25Encoder.from_dict(frozen)


def test_decode_names_terms_this_process_hashed() -> None:
    live = LiveBM25Encoder().fit(CORPUS)
    vector = live.encode_documents(["insulin insulin pancreas"]).sparse[0]
    assert [t for t, _ in live.decode(vector)] == ["insulin", "pancrea"]


def test_bad_inputs() -> None:
    with pytest.raises(ConfigurationError, match="b must lie"):
        LiveBM25Encoder(b=2)
    with pytest.raises(TypeError, match="single string"):
        LiveBM25Encoder().encode_queries("one string")
    with pytest.raises(ConfigurationError, match="non-empty"):
        LiveBM25Encoder().fit([])
