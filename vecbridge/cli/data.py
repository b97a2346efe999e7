"""``vecbridge data``: validate FlagEmbedding training files and build them from BEIR qrels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from vecbridge.cli.common import console, typer_app, user_errors
from vecbridge.cli.eval_setup import EvalServices, encoder_configs

data_app = typer_app(help="Fine-tuning data tools (FlagEmbedding {query, pos, neg} JSONL).", no_args_is_help=True)


@data_app.command("validate")
def validate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL training file."),
    max_shown: int = typer.Option(0, help="Print at most N bad lines (0: all)."),
) -> None:
    """Check every line against FlagEmbedding's format; exit code 1 if any line is bad."""
    from vecbridge.evaluation.training_data import validate_file

    with user_errors():
        report = validate_file(file)
    shown = report.errors if max_shown <= 0 else report.errors[:max_shown]
    for number, reason in shown:
        console.print(Text.assemble(f"{file}:{number}: ", (reason, "red")))
    for number, reason in report.warnings[:20]:
        console.print(Text.assemble(f"{file}:{number}: ", ("warning:", "yellow"), f" {reason}"))
    console.print(f"{report.lines} lines, {report.valid} valid, {len(report.errors)} bad")
    if not report.ok:
        raise typer.Exit(code=1)


@data_app.command("from-beir")
def from_beir(
    ctx: typer.Context,
    dataset_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="BEIR folder."),
    split: str = typer.Option("train", help="qrels split whose positives become 'pos'."),
    out: Path = typer.Option(Path("train.jsonl"), help="Output JSONL."),
    retrievers: str = typer.Option("dense", help="Retrievers ranking the candidates (RRF if several)."),
    dense_model: str = typer.Option("all-MiniLM-L6-v2"),
    splade_model: str = typer.Option("splade-tiny"),
    range_for_sampling: str = typer.Option("2-200", help="Slice START-END of the ranking to sample negatives from."),
    negatives: int = typer.Option(15, help="Negatives per query."),
    seed: int = typer.Option(42, help="Sampling seed (deterministic per query)."),
    prompt: Optional[str] = typer.Option(None, help="Optional 'prompt' field for every example."),
    limit_queries: Optional[int] = typer.Option(None),
    max_docs: Optional[int] = typer.Option(None),
    backend: str = typer.Option("milvus"),
    uri: Optional[str] = typer.Option(None),
    cache_dir: Path = typer.Option(Path(".vecbridge") / "eval"),
) -> None:
    """Training file from qrels, with hard negatives mined from a vecbridge index."""
    from vecbridge.evaluation.mining_job import mine

    configs = encoder_configs(retrievers, dense_model, splade_model)
    services = EvalServices.of(ctx)
    with user_errors():
        count = mine(
            dataset_dir,
            split,
            configs[0],
            services.connector_factory(backend, uri, cache_dir),
            cache_dir,
            out,
            range_for_sampling,
            negatives,
            seed,
            prompt,
            limit_queries,
            max_docs,
            loader=services.encoder_loader,
        )
    console.print(f"wrote {count} examples to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the main CLI."""
    app.add_typer(data_app, name="data")
