"""The agreement guard (pure fusion layer), applied alike by search, eval and tune; ``explain``."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import fusion
from vecbridge.evaluation.indexing import spec_for
from vecbridge.evaluation.modes import Mode, fuse
from vecbridge.explain import explain_rows
from vecbridge.index import HybridIndex, Retriever, RetrieverKind
from vecbridge.schemas import Document, Hit, InvalidInputError, Settings


def test_overlap_to_weight():
    lists = {"bm25": ["a", "b", "c"], "dense": ["b", "x", "y"], "splade": ["p", "q", "r"]}
    assert fusion.agreement(lists, 3) == {"bm25": 1, "dense": 1, "splade": 0}
    weights, overlaps = fusion.guarded(lists, {"bm25": 1.0, "dense": 2.0, "splade": 1.0}, 3, 0.5)
    assert weights == {"bm25": 1.0, "dense": 2.0, "splade": 0.5} and overlaps["splade"] == 0
    assert fusion.agreement(lists, 1) == {"bm25": 0, "dense": 0, "splade": 0}  # only the first ids compared
    # nobody agrees with anybody: nobody can be singled out
    assert fusion.guard_weights({"a": 1.0, "b": 3.0}, {"a": 0, "b": 0}, 0.5) == {"a": 1.0, "b": 3.0}
    assert fusion.agreement({"solo": ["a"]}, 5) == {"solo": 5}
    with pytest.raises(InvalidInputError, match="disagreement_factor"):
        fusion.guard_weights({"a": 1.0}, {"a": 0}, -1)
    with pytest.raises(InvalidInputError, match="agreement_top_n"):
        fusion.agreement(lists, 0)


ids = st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=6)


@given(st.dictionaries(st.sampled_from(["r1", "r2", "r3", "r4"]), ids, min_size=1), st.integers(1, 6))
def test_guard_properties(lists, top_n):
    weights = {n: 1.0 + i for i, n in enumerate(lists)}
    off, _ = fusion.guarded(lists, weights, top_n, 1.0)
    assert off == weights  # factor 1: the guard is off
    guarded, overlaps = fusion.guarded(lists, weights, top_n, 0.25)
    assert set(guarded) == set(weights)
    for name, weight in guarded.items():
        assert weight in (weights[name], weights[name] * 0.25)
        if overlaps[name] > 0:
            assert weight == weights[name]  # an agreeing retriever keeps its weight
    assert any(guarded[n] == weights[n] for n in weights)  # never everyone reduced
    assert all(0 <= overlaps[n] <= min(top_n, len(lists[n])) or len(lists) == 1 for n in lists)


class Contrarian(BagOfWordsEncoder):
    """A dense model whose query vectors point away from the matching documents: noise for every query."""

    name = "contrarian"

    def encode_queries(self, texts):
        out = super().encode_queries(texts)
        return type(out)(dense=-out.dense)


DOCS = [
    Document(id=f"d{i}", text=t)
    for i, t in enumerate(
        [
            "rivers of china yangtze",
            "yangtze river length",
            "milvus vector database",
            "bm25 ranking function",
            "insulin blood sugar",
            "protein folding",
            "solar energy panels",
        ]
    )
]


def guard_index():
    retrievers = [
        Retriever("a", BagOfWordsEncoder(), RetrieverKind.SPARSE, "a"),
        Retriever("b", BagOfWordsEncoder(), RetrieverKind.SPARSE, "b"),
        Retriever("noise", Contrarian(), RetrieverKind.DENSE, "dense"),
    ]
    index = HybridIndex(InMemoryConnector(), spec_for("g", retrievers), retrievers)
    index.upsert(DOCS)
    return index, retrievers


def test_search_reduces_the_retriever_that_agrees_with_nobody_and_explains_it():
    index, _ = guard_index()
    hits = index.search("yangtze river", k=3, agreement_top_n=2, explain=True)
    assert hits[0].weights == {"a": 1.0, "b": 1.0, "noise": 0.5}
    explained = hits[0].explain
    assert explained is not None and list(explained) == ["a", "b", "noise"]
    noise = explained["noise"]
    assert noise.ran and noise.reason == "guard" and noise.overlap == 0 and noise.agreement_top_n == 2
    assert noise.weight == 0.5 and noise.configured_weight == 1.0
    assert explained["a"].reason is None and explained["a"].overlap == 2 and explained["a"].rank == hits[0].ranks["a"]
    assert explained["a"].score == hits[0].scores["a"] and explained["a"].query_scripts == ["Latin"]
    off = index.search("yangtze river", k=3, agreement_top_n=2, disagreement_factor=1.0)
    assert off[0].weights == {"a": 1.0, "b": 1.0, "noise": 1.0} and off[0].explain is None
    index.disagreement_factor = 0.0  # the index's setting (Settings.fusion_disagreement_factor)
    assert index.search("yangtze river", k=3, agreement_top_n=2)[0].weights["noise"] == 0.0


def test_eval_fusion_applies_the_guard_exactly_as_search(tmp_path):
    index, _ = guard_index()
    queries = {"q1": "yangtze river", "q2": "vector database", "q3": "blood sugar insulin"}
    candidates = {
        name: {q: index.search(text, k=7, retrievers=[name]) for q, text in queries.items()}
        for name in ("a", "b", "noise")
    }
    for factor in (0.5, 1.0):
        mode = Mode("a+b+noise", ("a", "b", "noise"), window=7, agreement_top_n=2, disagreement_factor=factor)
        fused = fuse(candidates, mode, list(queries), 5, queries, index.coverage())
        for q, text in queries.items():
            searched = index.search(text, k=5, window=7, agreement_top_n=2, disagreement_factor=factor)
            assert [(h.id, h.score, h.weights) for h in fused[q]] == [(h.id, h.score, h.weights) for h in searched]


def test_settings_configure_the_guard(monkeypatch):
    monkeypatch.setenv("VECBRIDGE_FUSION_DISAGREEMENT_FACTOR", "0.25")
    monkeypatch.setenv("VECBRIDGE_FUSION_AGREEMENT_TOP_N", "20")
    settings = Settings()
    assert settings.fusion_disagreement_factor == 0.25 and settings.fusion_agreement_top_n == 20
    monkeypatch.setenv("VECBRIDGE_FUSION_DISAGREEMENT_FACTOR", "-1")
    with pytest.raises(InvalidInputError, match="VECBRIDGE_FUSION_DISAGREEMENT_FACTOR"):
        Settings()


def test_explain_rows_are_readable():
    index, _ = guard_index()
    (hit,) = index.search("yangtze river", k=1, agreement_top_n=2, explain=True)
    rows = {r["retriever"]: r for r in explain_rows(hit)}
    assert rows["noise"]["why"] == "guard: 0 of top 2 shared" and rows["noise"]["weight"] == "0.5 (asked 1)"
    assert rows["a"]["ran"] == "yes" and rows["a"]["overlap"] == "2/2"
    assert explain_rows(Hit(id="x", score=1.0)) == []
