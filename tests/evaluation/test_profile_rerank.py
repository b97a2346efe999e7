"""Fusion profiles drive ``HybridIndex.search``; rerank rows in eval."""

from __future__ import annotations

import pytest

from tests.evaluation.helpers import MIXED, mixed_loader
from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.encoders import EncoderConfig
from vecbridge.evaluation.profile import FusionProfile
from vecbridge.evaluation.runner import EvalOptions, run_eval
from vecbridge.index import HybridIndex
from vecbridge.schemas import ConfigurationError, Document


def test_profile_search_kwargs_with_aliases(tmp_path):
    profile = FusionProfile(rrf_k=10, weights={"bm25": 2.0, "dense": 0.0}, window=20)
    path = tmp_path / "p.json"
    profile.save(path)
    kwargs = FusionProfile.load(path).search_kwargs(aliases={"bm25": "sparse"})
    assert kwargs == {
        "rrf_k": 10,
        "weights": {"sparse": 2.0, "dense": 0.0},
        "window": 20,
        "retrievers": ["sparse"],
        "uncovered_factor": 0.0,
    }
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(InMemoryConnector(), "p", dense=encoder, sparse=encoder)
    index.upsert([Document(id="a", text="green tea"), Document(id="b", text="black coffee")])
    hits = index.search("tea", k=2, **kwargs)
    assert hits[0].id == "a" and set(hits[0].ranks) == {"sparse"}  # dense has weight 0: skipped


def test_profile_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="at least one weight"):
        FusionProfile(rrf_k=60, weights={"bm25": 0.0}, window=10)
    (tmp_path / "bad.json").write_text('{"rrf_k": 60}')
    with pytest.raises(ConfigurationError, match="bad.json"):
        FusionProfile.load(tmp_path / "bad.json")


class ReverseReranker:
    """Scores passages by their negated position: reverses the reranked head."""

    def score(self, query, passages):
        return [float(i) for i in range(len(passages))]


def test_rerank_row(tmp_path):
    dataset = load_beir(MIXED, "test")
    options = EvalOptions(modes="bm25", reranker=ReverseReranker(), rerank_top_n=5, latency_queries=1)
    config = EncoderConfig("base", {"bm25": "bm25"})
    result = run_eval(dataset, [config], InMemoryConnector, tmp_path, options, loader=mixed_loader)
    rows = {r["name"]: r for r in result["configs"][0]["modes"]}
    assert set(rows) == {"bm25", "bm25>rerank"}
    assert rows["bm25>rerank"]["metrics"]["recall@100"] == rows["bm25"]["metrics"]["recall@100"]
    assert rows["bm25>rerank"]["metrics"]["mrr@10"] < rows["bm25"]["metrics"]["mrr@10"]
