"""``vecbridge tune``: ingest (or reuse), retrieve candidates once at the largest window, search fusion settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.table import Table

from vecbridge.connectors import Connector
from vecbridge.evaluation.candidates import split_candidates
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader
from vecbridge.evaluation.profile import FusionProfile
from vecbridge.evaluation.tune import FOLDS, RESTARTS, WINDOW_GRID, tune


def run_tune(
    dataset_dir: Path,
    split: str,
    config: EncoderConfig,
    connector_factory: Callable[[], Connector],
    cache_dir: Path,
    method: str = "coordinate",
    metric: str = "ndcg@10",
    limit_queries: Optional[int] = None,
    max_docs: Optional[int] = None,
    min_gain: float = 0.0,
    window_grid: Sequence[int] = WINDOW_GRID,
    restarts: int = RESTARTS,
    seed: int = 0,
    folds: int = FOLDS,
    loader: Optional[EncoderLoader] = None,
    console: Optional[Console] = None,
    progress: bool = True,
) -> FusionProfile:
    """The best fusion profile on ``split``; never below the best single retriever there."""
    dataset, names, candidates, coverage, fallback = split_candidates(
        dataset_dir,
        split,
        config,
        connector_factory,
        cache_dir,
        max(window_grid),
        limit_queries,
        max_docs,
        loader,
        progress,
    )
    result = tune(
        candidates,
        dataset.qrels,
        names,
        metric=metric,
        method=method,
        window_grid=window_grid,
        min_gain=min_gain,
        queries=dataset.queries,
        coverage=coverage,
        fallback=fallback,
        restarts=restarts,
        seed=seed,
        folds=folds if len(dataset.qrels) >= 2 * folds else 0,  # too few queries to hold any out
    )
    weights = {r: result.best.weights.get(r, 0.0) for r in names}
    profile = FusionProfile(
        rrf_k=result.best.rrf_k,
        weights=weights,
        window=result.best.window or max(window_grid),
        metric=metric,
        dataset=dataset.name,
        split=split,
        n_queries=len(dataset.queries),
        dev_scores={
            **result.single_scores,
            "+".join(names) + " (equal RRF)": result.equal_score,
            **{f"{name} ({folds}-fold CV)": score for name, score in result.cv_scores.items()},
        },
        tuned_score=result.score,
        evaluations=result.evaluations,
        encoders=dict(config.models),
        uncovered_factor=result.best.uncovered_factor,
    )
    if console is not None:
        console.print(profile_table(profile))
    return profile


def profile_table(profile: FusionProfile) -> Table:
    table = Table(
        title=f"fusion tuning on {profile.dataset}/{profile.split} ({profile.n_queries} queries, "
        f"{profile.evaluations} settings scored)",
        title_justify="left",
    )
    table.add_column("mode")
    table.add_column(profile.metric, justify="right")
    for name, score in profile.dev_scores.items():
        table.add_row(name, f"{score:.4f}")
    weights = ", ".join(f"{n}={w:g}" for n, w in profile.weights.items())
    table.add_row(f"tuned (k={profile.rrf_k:g}, {weights}, window={profile.window})", f"{profile.tuned_score:.4f}")
    return table
