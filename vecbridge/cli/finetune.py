"""``vecbridge finetune``: train a dense model (sentence-transformers) or BGE-M3 (FlagEmbedding) on a JSONL file."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from vecbridge.cli.common import console, fail
from vecbridge.schemas import VecbridgeError


def finetune_command(
    train_file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="FlagEmbedding {query, pos, neg} JSONL (e.g. from `vecbridge data from-beir`).",
    ),
    base_model: str = typer.Option(
        "all-MiniLM-L6-v2",
        "--model",
        help="Model to start from: a sentence-transformers folder/alias, or a BGE-M3 folder.",
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Folder for the fine-tuned model (what load_encoder and eval --compare-dense-model read).",
    ),
    epochs: float = typer.Option(1.0, help="Training epochs."),
    max_steps: int = typer.Option(-1, help="Stop after N optimizer steps (> 0 overrides --epochs)."),
    batch_size: int = typer.Option(32, help="Rows per batch: every other row's passages are in-batch negatives."),
    learning_rate: float = typer.Option(2e-5),
    warmup_ratio: float = typer.Option(0.1),
    hard_negatives: int = typer.Option(
        1, help="Hard negatives per (query, positive) from the file's 'neg' (BGE-M3: train_group_size - 1)."
    ),
    max_seq_length: Optional[int] = typer.Option(
        None,
        help="Training max tokens (default: the model's own; BGE-M3 passages: 512). "
        "A dense model is saved with its own inference length.",
    ),
    query_max_length: int = typer.Option(64, help="BGE-M3 only: query max tokens."),
    save_steps: int = typer.Option(100, help="Write a checkpoint every N steps."),
    checkpoint_dir: Optional[Path] = typer.Option(
        None, help="Trainer checkpoints (default: OUTPUT-checkpoints; BGE-M3: OUTPUT)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest checkpoint (dense models; BGE-M3: see the error it gives)."
    ),
    seed: int = typer.Option(42),
    nproc: int = typer.Option(0, help="BGE-M3 only: torchrun processes (0: one plain process, e.g. on CPU)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="BGE-M3 only: print FlagEmbedding's launch command, run nothing."
    ),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Fine-tune with in-batch + hard negatives (dense: SentenceTransformerTrainer + MultipleNegativesRankingLoss;
    BGE-M3: FlagEmbedding's unified M3 runner with self-distillation)."""
    from vecbridge.finetune import FinetuneOptions, finetune_dense, finetune_m3, is_m3

    options = FinetuneOptions(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_ratio=warmup_ratio,
        hard_negatives=hard_negatives,
        max_seq_length=max_seq_length,
        query_max_length=query_max_length,
        max_steps=max_steps,
        save_steps=save_steps,
        seed=seed,
    )
    try:
        if is_m3(base_model):
            command = finetune_m3(train_file, base_model, output, options, nproc, resume, dry_run)
            console.print(("would run: " if dry_run else "ran: ") + shlex.join(command), soft_wrap=True)
            if dry_run:
                return
        else:
            if dry_run:
                raise typer.BadParameter("--dry-run applies to BGE-M3 folders only")
            finetune_dense(train_file, base_model, output, options, checkpoint_dir, resume, progress=not no_progress)
    except VecbridgeError as exc:
        fail(exc)
    console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add ``finetune`` to the main CLI."""
    app.command("finetune")(finetune_command)
