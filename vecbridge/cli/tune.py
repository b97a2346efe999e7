"""``vecbridge tune``: tune RRF k, per-retriever weights and window; write a fusion profile."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vecbridge.cli.common import console, user_errors
from vecbridge.cli.eval_setup import CACHE_DIR, SCRIPTS_HELP, EvalServices, encoder_configs


def tune_command(
    ctx: typer.Context,
    dataset_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="BEIR folder."),
    split: str = typer.Option("train", help="Tuning split (never the test split you report)."),
    retrievers: str = typer.Option("bm25,dense,splade", help="Retrievers to fuse, comma-separated."),
    dense_model: str = typer.Option("all-MiniLM-L6-v2"),
    splade_model: str = typer.Option("splade-tiny"),
    method: str = typer.Option("coordinate", help="coordinate (fast) or grid (exhaustive)."),
    metric: str = typer.Option("ndcg@10", help="ranx metric to maximize."),
    min_gain: float = typer.Option(
        0.0, help="A fused profile must beat the best single retriever by this much on the dev split."
    ),
    window_grid: str = typer.Option(
        "100,200", help="Candidate windows tried (comma-separated); eval fuses max(window, depth)."
    ),
    restarts: Optional[int] = typer.Option(
        None, help="Random coordinate-ascent starts besides singles and equal weights [default: 2]."
    ),
    seed: int = typer.Option(0, help="Seed of the random starts and of the cross-validation folds."),
    folds: Optional[int] = typer.Option(
        None,
        help="Cross-validation folds on the tuning split (0: off): pick a setting with a good neighbourhood, "
        "report the held-out estimate [default: 3].",
    ),
    limit_queries: Optional[int] = typer.Option(None),
    max_docs: Optional[int] = typer.Option(None),
    backend: str = typer.Option("milvus"),
    uri: Optional[str] = typer.Option(None),
    cache_dir: Path = typer.Option(CACHE_DIR),
    out: Path = typer.Option(Path("fusion_profile.json"), help="Fusion profile to write."),
    scripts: list[str] = typer.Option([], "--scripts", help=SCRIPTS_HELP),
) -> None:
    """Tune RRF k, per-retriever weights and window on a train/dev split; write a fusion profile."""
    from vecbridge.evaluation.tune import FOLDS, RESTARTS
    from vecbridge.evaluation.tuning_job import run_tune

    if split == "test":
        console.print("warning: tuning on the test split; report scores on another split", style="yellow")
    configs = encoder_configs(retrievers, dense_model, splade_model, scripts=scripts)
    services = EvalServices.of(ctx)
    with user_errors():
        profile = run_tune(
            dataset_dir,
            split,
            configs[0],
            services.connector_factory(backend, uri, cache_dir),
            cache_dir,
            method=method,
            metric=metric,
            limit_queries=limit_queries,
            max_docs=max_docs,
            min_gain=min_gain,
            window_grid=_ints(window_grid, "--window-grid"),
            restarts=RESTARTS if restarts is None else restarts,
            seed=seed,
            folds=FOLDS if folds is None else folds,
            loader=services.encoder_loader,
            console=console,
        )
        profile.save(out)
    console.print(f"wrote {out}")


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected comma-separated integers") from None
    if not values or min(values) <= 0:
        raise typer.BadParameter(f"{option} {text!r}: expected positive integers")
    return values


def register(app: typer.Typer) -> None:
    """Add ``tune`` to the main CLI."""
    app.command("tune")(tune_command)
