"""Fusion tuning: deterministic, and never below the best single retriever on the tuning split."""

from __future__ import annotations

import pytest

from tests.evaluation.helpers import MIXED, english_only_loader, mixed_loader, real_bm25_available
from tests.facade.fakes import InMemoryConnector
from vecbridge.evaluation import metrics
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.encoders import EncoderConfig, build_retrievers
from vecbridge.evaluation.indexing import ensure_index
from vecbridge.evaluation.modes import fuse
from vecbridge.evaluation.profile import FusionProfile
from vecbridge.evaluation.retrieval import retrieve_candidates
from vecbridge.evaluation.tune import tune
from vecbridge.evaluation.tuning_job import run_tune
from vecbridge.fusion import rrf, rrf_ids

CONFIG = EncoderConfig("base", {"bm25": "bm25", "dense": "fake-dense"})


def candidates_for(dataset, loader, tmp_path, depth=200):
    retrievers = build_retrievers(CONFIG, [d.text for d in dataset.corpus.values()], tmp_path, loader)
    index, _ = ensure_index(InMemoryConnector(), dataset, retrievers, CONFIG.models, tmp_path)
    return retrieve_candidates(index, dataset.queries, [r.name for r in retrievers], depth)


def check_guarantee(result, candidates, dataset):
    assert result.score >= max(result.single_scores.values()) - 1e-12
    # the reported score is what the chosen setting really gives
    run = metrics.to_run(fuse(candidates, result.best, sorted(dataset.qrels), 10), "best")
    assert metrics.evaluate(metrics.to_qrels(dataset.qrels), run, ["ndcg@10"])["ndcg@10"] == pytest.approx(result.score)


def test_tune_is_deterministic_and_never_worse_on_scifact_train(scifact_dir, tmp_path):
    dataset = load_beir(scifact_dir, "train", limit_queries=30, max_docs=300)
    candidates = candidates_for(dataset, mixed_loader, tmp_path)
    first = tune(candidates, dataset.qrels, ["bm25", "dense"], max_rounds=2)
    second = tune(candidates, dataset.qrels, ["bm25", "dense"], max_rounds=2)
    assert first.best == second.best and first.score == second.score and first.history == second.history
    check_guarantee(first, candidates, dataset)
    assert first.evaluations > 20  # the search really explored hybrid settings


def test_fast_inner_loop_equals_the_pinned_rrf(scifact_dir, tmp_path):
    dataset = load_beir(scifact_dir, "train", limit_queries=10, max_docs=200)
    candidates = candidates_for(dataset, mixed_loader, tmp_path)
    for rrf_k, window, weights in [(60.0, 200, (1.0, 1.0)), (1.0, 20, (0.25, 3.0)), (10.0, 50, (2.0, 0.0))]:
        for q in dataset.queries:
            lists = {r: candidates[r][q][:window] for r, w in zip(("bm25", "dense"), weights, strict=True) if w > 0}
            ws = {r: w for r, w in zip(("bm25", "dense"), weights, strict=True) if w > 0}
            expected = [h.id for h in rrf(lists, 10, k=rrf_k, weights=ws)]
            assert rrf_ids([([h.id for h in lists[r]], ws[r]) for r in lists], rrf_k, window, 10) == expected


@pytest.mark.skipif(not real_bm25_available(), reason="needs encoders.bm25 (jieba analyzer) for Chinese text")
def test_english_only_dense_hurts_equal_rrf_but_not_the_tuned_profile(tmp_path):
    dataset = load_beir(MIXED, "train")
    candidates = candidates_for(dataset, english_only_loader, tmp_path, depth=36)
    result = tune(candidates, dataset.qrels, ["bm25", "dense"], window_grid=(5, 10, 20, 36))
    best_single = max(result.single_scores.values())
    assert result.single_scores["bm25"] > result.single_scores["dense"]
    assert result.equal_score < best_single  # the failure mode the profile exists for
    check_guarantee(result, candidates, dataset)
    cautious = tune(candidates, dataset.qrels, ["bm25", "dense"], window_grid=(5, 10, 20, 36), min_gain=1.0)
    assert cautious.best.active == ("bm25",) and cautious.score == result.single_scores["bm25"]


def test_run_tune_writes_a_loadable_profile(tmp_path):
    profile = run_tune(
        MIXED,
        "train",
        CONFIG,
        InMemoryConnector,
        tmp_path,
        loader=english_only_loader,
        window_grid=(10, 36),
        progress=False,
    )
    profile.save(tmp_path / "profile.json")
    loaded = FusionProfile.load(tmp_path / "profile.json")
    assert loaded == profile and loaded.split == "train" and loaded.n_queries == 22
    assert loaded.tuned_score >= max(v for k, v in loaded.dev_scores.items() if "+" not in k)
    assert set(loaded.search_kwargs()) == {"rrf_k", "weights", "window", "retrievers", "uncovered_factor"}
