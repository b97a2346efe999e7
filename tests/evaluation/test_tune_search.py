"""The fusion search on synthetic candidate lists whose optimum is known, and the CLI round trip
``vecbridge tune`` -> profile file -> ``vecbridge eval --profile``."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from tests.evaluation.helpers import MIXED, named_loader
from tests.facade.fakes import InMemoryConnector
from vecbridge.cli import app
from vecbridge.cli.eval_setup import EvalServices
from vecbridge.evaluation import metrics
from vecbridge.evaluation.modes import fuse
from vecbridge.evaluation.tune import _RankTable, tune
from vecbridge.fusion import rrf_ids
from vecbridge.schemas import ConfigurationError, Hit

SMALL = {"k_grid": (1.0, 10.0, 60.0), "weight_grid": (0.0, 0.5, 1.0, 2.0), "window_grid": (20,)}


def hits(ids):
    return [Hit(id=d, score=float(len(ids) - i)) for i, d in enumerate(ids)]


def filler(prefix, n=15):
    return [f"{prefix}{i:02d}" for i in range(n)]


def two_kinds(n_queries=12):
    """Retrievers a, b, c. Queries x: the relevant doc is a's first and absent from b, whose first
    ("0-..." ids sort first, so it wins ties) is absent from a. Queries y: the relevant doc is a's
    second and b's first; a's first is absent from b. c ranks distractors only. nDCG@10 = 1 on
    every query exactly when w_a > w_b > w_a / (k + 2) and c weighs little."""
    candidates = {"a": {}, "b": {}, "c": {}}
    qrels = {}
    for i in range(n_queries):
        q, rel = f"q{i:02d}", f"rel{i:02d}"
        if i % 2 == 0:
            candidates["a"][q] = hits([rel, *filler(f"a{i}-")])
            candidates["b"][q] = hits([f"0-b{i}", *filler(f"b{i}-")])
        else:
            candidates["a"][q] = hits([f"0-a{i}", rel, *filler(f"a{i}-")])
            candidates["b"][q] = hits([rel, *filler(f"b{i}-")])
        candidates["c"][q] = hits([f"0-c{i}", *filler(f"c{i}-")])
        qrels[q] = {rel: 1}
    return candidates, qrels


def score_of(mode, candidates, qrels, metric):
    run = metrics.to_run(fuse(candidates, mode, sorted(qrels), 10), "check")
    return metrics.evaluate(metrics.to_qrels(qrels), run, [metric])[metric]


def test_coordinate_search_finds_the_known_optimum():
    candidates, qrels = two_kinds()
    result = tune(candidates, qrels, ["a", "b", "c"], restarts=2, seed=3, **SMALL)
    w = result.best.weights
    assert result.score == pytest.approx(1.0)
    assert w["a"] > w["b"] > w["a"] / (result.best.rrf_k + 2)
    assert max(result.single_scores.values()) < 1.0 and result.equal_score < 1.0  # fusion was needed
    assert score_of(result.best, candidates, qrels, "ndcg@10") == pytest.approx(result.score)
    exhaustive = tune(candidates, qrels, ["a", "b", "c"], method="grid", **SMALL)
    assert exhaustive.score == pytest.approx(result.score)
    assert result.evaluations < exhaustive.evaluations


def test_cross_validated_choice_keeps_the_optimum_and_estimates_held_out_scores():
    candidates, qrels = two_kinds(20)
    result = tune(candidates, qrels, ["a", "b", "c"], folds=4, seed=1, **SMALL)
    assert result.score == pytest.approx(1.0)
    assert set(result.cv_scores) == {"tuned", "equal", "best single"}
    assert result.cv_scores["tuned"] == pytest.approx(1.0)  # every fold's search finds it too
    assert result.cv_scores["equal"] == pytest.approx(result.equal_score)  # no choice made: same queries
    assert result.cv_scores["best single"] < 1.0


def test_the_same_seed_gives_the_same_search():
    rng = random.Random(5)
    pool = [f"d{i:03d}" for i in range(80)]
    candidates = {r: {f"q{i}": hits(rng.sample(pool, 30)) for i in range(15)} for r in "abc"}
    qrels = {f"q{i}": {d: 1 for d in rng.sample(pool, 3)} for i in range(15)}
    runs = [tune(candidates, qrels, ["a", "b", "c"], restarts=3, seed=11, folds=3, **SMALL) for _ in range(2)]
    first, second = runs
    assert first.best == second.best and first.score == second.score
    assert first.history == second.history and first.cv_scores == second.cv_scores
    assert first.score >= max(first.single_scores.values())
    assert score_of(first.best, candidates, qrels, "ndcg@10") == pytest.approx(first.score)


def test_the_search_maximizes_the_metric_it_is_given():
    """a returns only a grade-1 document, b only a grade-2 one: nDCG@10 wants both, the grade-2 one
    first (w_b > w_a > 0); MRR@10 is already 1 with a alone, which it keeps (earliest tie)."""
    candidates = {"a": {}, "b": {}}
    qrels = {}
    for i in range(6):
        q = f"q{i}"
        candidates["a"][q] = hits([f"lo{i}"])
        candidates["b"][q] = hits([f"z-hi{i}"])  # loses ties to lo
        qrels[q] = {f"z-hi{i}": 2, f"lo{i}": 1}
    ndcg = tune(candidates, qrels, ["a", "b"], metric="ndcg@10", **SMALL)
    mrr = tune(candidates, qrels, ["a", "b"], metric="mrr@10", **SMALL)
    assert ndcg.score == pytest.approx(1.0) and ndcg.best.weights["b"] > ndcg.best.weights["a"] > 0
    assert mrr.score == pytest.approx(1.0) and mrr.best.active == ("a",)
    assert score_of(mrr.best, candidates, qrels, "ndcg@10") < ndcg.score


def test_vectorized_fusion_equals_rrf_ids():
    rng = random.Random(2)
    pool = [f"d{i:03d}" for i in range(200)]
    qids = [f"q{i}" for i in range(30)]
    ids = {r: {q: rng.sample(pool, rng.randint(0, 90)) for q in qids} for r in "abc"}
    table = _RankTable(ids, qids, ["a", "b", "c"])
    for rrf_k, window, weights in [(60.0, 100, (1.0, 1.0, 1.0)), (1.0, 20, (0.25, 3.0, 0.0)), (2.0, 7, (1, 1, 1))]:
        fused = table.fuse(rrf_k, window, weights, 10)
        for q in qids:
            lists = [(ids[r][q], w) for r, w in zip("abc", weights, strict=True) if w > 0]
            assert fused[q] == rrf_ids(lists, rrf_k, window, 10)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"restarts": -1}, "restarts"), ({"folds": 1}, "folds"), ({"top": 0}, "top"), ({"method": "random"}, "method")],
)
def test_bad_search_options_are_refused_by_name(options, field):
    candidates, qrels = two_kinds(4)
    with pytest.raises(ConfigurationError, match=field):
        tune(candidates, qrels, ["a", "b"], **{**SMALL, **options})


def test_cli_tune_profile_then_eval_scores_what_tune_reported(tmp_path):
    """On the split it was tuned on, ``eval --profile`` scores the tuned mode exactly as ``tune`` did."""
    services = EvalServices(encoder_loader=named_loader, open_connector=lambda *a: InMemoryConnector())
    common = ["--retrievers", "bm25,dense", "--dense-model", "english-only", "--cache-dir", str(tmp_path / "c")]
    profile = tmp_path / "profile.json"
    args = ["tune", str(MIXED), "--split", "train", "--out", str(profile), "--restarts", "1", "--folds", "2"]
    result = CliRunner().invoke(app, [*args, *common], obj=services)
    assert result.exit_code == 0, result.output
    saved = json.loads(profile.read_text())
    assert {"tuned (2-fold CV)", "equal (2-fold CV)", "best single (2-fold CV)"} <= set(saved["dev_scores"])
    out = tmp_path / "out"
    args = ["eval", str(MIXED), "--split", "train", "--profile", str(profile), "--out-dir", str(out)]
    result = CliRunner().invoke(app, [*args, "--latency-queries", "0", *common], obj=services)
    assert result.exit_code == 0, result.output
    (config,) = json.loads((out / "eval.json").read_text())["configs"]
    tuned = next(row for row in config["modes"] if row["name"] == "tuned")
    assert tuned["metrics"]["ndcg@10"] == pytest.approx(saved["tuned_score"])
    bad = CliRunner().invoke(app, ["tune", str(MIXED), "--folds", "1", "--out", str(profile), *common], obj=services)
    assert bad.exit_code != 0 and "folds" in bad.output
