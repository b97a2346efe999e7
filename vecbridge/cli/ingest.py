"""``vecbridge ingest``: dead letters, checkpoints and resume, pipelined writes, optional chunking.

Exit codes: 0 all written; 1 something was dead-lettered, the run stopped (``--on-error stop``)
or the store failed mid-run; 2 bad usage or configuration (nothing ingested); 130 Ctrl-C."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from vecbridge.cli.common import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_USAGE, console, fail, settings, user_errors
from vecbridge.ingest.checkpoint import Checkpoint
from vecbridge.ingest.chunking import Chunker
from vecbridge.ingest.files import FolderSource
from vecbridge.ingest.report import IngestReport, OnError
from vecbridge.ingest.sources import FileSource, InputFormat
from vecbridge.schemas import VecbridgeError


class Engine(str, Enum):
    INPROCESS = "inprocess"
    RAY = "ray"


def _say(message: str, style: str = "") -> None:
    """Print verbatim (user and store text is never parsed as markup)."""
    console.print(Text(message, style=style), soft_wrap=True)


def _error(message: str, code: int) -> None:
    fail(message, code)


def _summary(report: IngestReport, checkpoint: Path) -> None:
    if report.resumed_at is not None:
        _say(f"resumed after line {report.resumed_at}")
    _say(f"{report.summary()}  (this run; {report.encoded} encoded)")
    if report.resumed_at is not None and checkpoint.exists():
        saved = Checkpoint.load(checkpoint)
        if saved.complete and not report.read:
            _say("nothing left to ingest: the checkpoint covers the whole file")
        _say("whole file: " + "  ".join(f"{k}: {v}" for k, v in saved.totals.items()))
    if report.dead_lettered:
        _say(f"dead letters: {report.dead_lettered} rows in {report.dead_letter}", "red")
    if report.stopped_at is not None:
        _say(
            f"stopped at line {report.stopped_at} (--on-error stop); fix it, or continue after it with --resume", "red"
        )


def ingest(
    file: Path = typer.Argument(
        ...,
        exists=True,
        help="JSONL, CSV or Parquet: id (or _id), text, optional title and metadata; other fields become metadata. "
        "Or a folder of .txt/.md/.html/.pdf files (one document each).",
    ),
    collection: Optional[str] = typer.Option(None, help="Collection name (default: VECBRIDGE_COLLECTION)."),
    filterable: list[str] = typer.Option(
        [], "--filterable", "-f", help="Filterable metadata key, KEY:TYPE (string|int|float|bool|datetime); repeatable."
    ),
    format: Optional[InputFormat] = typer.Option(
        None, "--format", help="Input format (default: from the file suffix)."
    ),
    on_error: OnError = typer.Option(
        OnError.SKIP, "--on-error", help="skip: dead-letter bad records and go on; stop: stop at the first."
    ),
    dead_letter: Optional[Path] = typer.Option(
        None, help="Dead-letter JSONL (default: FILE.COLLECTION.dead-letter.jsonl here)."
    ),
    checkpoint: Optional[Path] = typer.Option(
        None, help="Checkpoint file (default: FILE.COLLECTION.checkpoint.json here)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue after the checkpoint of an interrupted run of the same file."
    ),
    chunk_tokens: Optional[int] = typer.Option(None, min=1, help="Split documents into chunks of N tokens (ids ID#n)."),
    overlap: int = typer.Option(0, min=0, help="Tokens shared by consecutive chunks (< --chunk-tokens)."),
    batch_size: Optional[int] = typer.Option(
        None, min=1, help="Documents per write batch (default: VECBRIDGE_INGEST_BATCH_SIZE)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    engine: Engine = typer.Option(
        Engine.INPROCESS, "--engine", help="inprocess, or ray: Ray Data actors encode and write (needs a shared store)."
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="--engine ray: 'auto' or ray://host:10001 (default: a local Ray)."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="--engine ray: encoder actors (one model load each)."),
    num_gpus: float = typer.Option(0.0, "--num-gpus", min=0.0, help="--engine ray: GPUs per actor."),
) -> None:
    """Encode a file and upsert it: bad records go to a dead-letter file, progress is checkpointed."""
    from vecbridge.config import open_index, parse_filterable
    from vecbridge.ingest import IngestError, IngestInterrupted, ingest as run_ingest

    with user_errors():
        config = settings(collection=collection)
    name = config.collection
    dead_letter = dead_letter or Path(f"{file.name}.{name}.dead-letter.jsonl")
    checkpoint = checkpoint or Path(f"{file.name}.{name}.checkpoint.json")
    if engine is Engine.RAY:
        from vecbridge.cli.ingest_ray import run_ray

        if file.is_dir():
            _error(
                "--engine ray reads a JSONL, CSV or Parquet file, not a folder; ingest a folder in process", EXIT_USAGE
            )

        report = run_ray(
            config,
            file,
            format=format,
            filterable=filterable,
            dead_letter=dead_letter,
            on_error=on_error,
            resume=resume,
            chunk_tokens=chunk_tokens,
            batch_size=batch_size,
            address=address,
            workers=workers,
            num_gpus=num_gpus,
            progress=progress,
        )
        _summary(report, checkpoint)
        if not report.ok:
            raise typer.Exit(code=EXIT_PROBLEMS)
        return
    try:
        source = FolderSource(file) if file.is_dir() else FileSource(file, format)
        if file.is_dir() and resume:
            _error(
                "--resume: a folder keeps no checkpoint; run `vecbridge sync` on it instead "
                "(it skips what the store already holds)",
                EXIT_USAGE,
            )
        chunking = None if chunk_tokens is None else Chunker(chunk_tokens, overlap).settings()
        if overlap and chunk_tokens is None:
            _error("--overlap needs --chunk-tokens", EXIT_USAGE)
        if resume and isinstance(source, FileSource):  # refuse a wrong file before loading any model
            Checkpoint.load(checkpoint).check(source, name, chunking, checkpoint)
        index = open_index(config, parse_filterable(filterable), corpus=source.texts)
    except VecbridgeError as exc:
        _error(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        _error("interrupted before anything was ingested", EXIT_INTERRUPTED)
    try:
        report = run_ingest(
            index,
            source,
            on_error=on_error,
            dead_letter=dead_letter,
            checkpoint=None if file.is_dir() else checkpoint,
            resume=resume,
            chunk_tokens=chunk_tokens,
            overlap=overlap,
            batch_size=batch_size,
            progress=progress,
        )
    except IngestInterrupted as exc:
        _say(exc.message, "yellow")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except IngestError as exc:
        _error(str(exc), EXIT_PROBLEMS)
    except VecbridgeError as exc:
        _error(str(exc), EXIT_USAGE)
    finally:
        index.connector.close()
    _summary(report, checkpoint)
    if not report.ok or report.stopped_at is not None:
        raise typer.Exit(code=EXIT_PROBLEMS)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the main CLI."""
    app.command(name="ingest")(ingest)
