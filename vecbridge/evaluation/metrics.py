"""Metrics and paired significance with ``ranx`` (nothing hand-written)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vecbridge.schemas import Hit

METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
LABELS = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "mrr@10": "MRR@10", "map@100": "MAP@100"}


def to_qrels(qrels: Mapping[str, Mapping[str, int]]):
    """A ``ranx.Qrels`` from ``{query id: {doc id: grade}}``."""
    from ranx import Qrels

    return Qrels.from_dict({q: dict(judged) for q, judged in qrels.items()})


def to_run(results: Mapping[str, Sequence[Hit]], name: str):
    """A ``ranx.Run`` that keeps our exact order: the i-th of n hits gets score n - i.

    (Fused scores can tie; ranx would break ties its own way, so ranks are passed, not scores.)
    """
    return run_from_ids({q: [h.id for h in hits] for q, hits in results.items()}, name)


def run_from_ids(results: Mapping[str, Sequence[str]], name: str):
    """A ``ranx.Run`` from best-first document ids per query (scores n, n-1, ..., 1)."""
    from ranx import Run

    run = Run.from_dict({q: {d: float(len(ids) - i) for i, d in enumerate(ids)} for q, ids in results.items() if ids})
    run.name = name
    return run


def evaluate(qrels, run, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    """Mean of each metric over the qrels' queries (a query the run misses scores 0)."""
    from ranx import evaluate as ranx_evaluate

    scores = ranx_evaluate(qrels, run, list(metrics), make_comparable=True)
    if isinstance(scores, float) or not isinstance(scores, dict):
        scores = {metrics[0]: scores}
    return {m: float(scores[m]) for m in metrics}


def per_query(qrels, run, metric: str) -> dict[str, float]:
    """``metric`` of each query of ``qrels`` (a query the run misses scores 0)."""
    from ranx import evaluate as ranx_evaluate

    scores = ranx_evaluate(qrels, run, metric, return_mean=False, make_comparable=True)
    return {q: float(s) for q, s in zip(qrels.keys(), scores, strict=True)}


def significance(
    qrels,
    runs: Sequence[Any],
    pairs: Sequence[tuple[str, str]],
    metrics: Sequence[str] = ("ndcg@10",),
    test: str = "fisher",
    seed: int = 42,
) -> list[dict[str, Any]]:
    """Paired test (``ranx.compare``: ``fisher`` randomization or ``student`` t-test) for each pair
    ``(a, b)`` of run names; returns p-values and per-query win/tie/loss of ``a`` against ``b``."""
    from ranx import compare

    if not pairs:
        return []
    report = compare(
        qrels, list(runs), list(metrics), stat_test=test, random_seed=seed, make_comparable=True, rounding_digits=6
    ).to_dict()
    out = []
    for a, b in pairs:
        for metric in metrics:
            wtl = report[a]["win_tie_loss"][b][metric]
            out.append(
                {
                    "a": a,
                    "b": b,
                    "metric": metric,
                    "test": test,
                    "a_score": float(report[a]["scores"][metric]),
                    "b_score": float(report[b]["scores"][metric]),
                    "p_value": float(report[a]["comparisons"][b][metric]),
                    "wins": int(wtl["W"]),
                    "ties": int(wtl["T"]),
                    "losses": int(wtl["L"]),
                }
            )
    return out
