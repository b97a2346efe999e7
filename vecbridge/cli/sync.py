"""``vecbridge sync SOURCE``: make a collection hold exactly a file's or a folder's documents,
encoding only what changed (docs/sync.md).

Exit codes: 0 in sync; 1 something failed (dead-lettered), a requested cleanup was skipped, or the
store failed mid-run (run it again); 2 bad usage or configuration; 130 Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from vecbridge.cli.common import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_USAGE, console, fail, settings as cli_settings
from vecbridge.ingest.sources import InputFormat
from vecbridge.schemas import VecbridgeError


def _say(message: str, style: str = "") -> None:
    console.print(Text(message, style=style), soft_wrap=True)


def sync(
    source: Path = typer.Argument(
        ..., exists=True, help="A JSONL/CSV/Parquet file, or a folder of .txt/.md/.html/.pdf files."
    ),
    collection: Optional[str] = typer.Option(None, help="Collection name (default: VECBRIDGE_COLLECTION)."),
    cleanup: str = typer.Option(
        "none", "--cleanup", help="none: never delete; full: delete the source key's documents that left the source."
    ),
    source_key: Optional[str] = typer.Option(
        None, "--source-key", help="Scope of --cleanup full (default: the absolute path of SOURCE)."
    ),
    filterable: list[str] = typer.Option(
        [], "--filterable", "-f", help="Filterable metadata key of a new collection, KEY:TYPE; repeatable."
    ),
    format: Optional[InputFormat] = typer.Option(
        None, "--format", help="Input format of a file (default: from its suffix)."
    ),
    dead_letter: Optional[Path] = typer.Option(
        None, help="Dead-letter JSONL (default: SOURCE.COLLECTION.dead-letter.jsonl here)."
    ),
    chunk_tokens: Optional[int] = typer.Option(None, min=1, help="Split documents into chunks of N tokens (ids ID#n)."),
    overlap: int = typer.Option(0, min=0, help="Tokens shared by consecutive chunks (< --chunk-tokens)."),
    batch_size: Optional[int] = typer.Option(
        None, min=1, help="Documents per write batch (default: VECBRIDGE_INGEST_BATCH_SIZE)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    engine: str = typer.Option("inprocess", "--engine", help="inprocess (ray cannot sync)."),
) -> None:
    """Sync a file or folder into a collection: unchanged documents are skipped, changed ones replaced."""
    from vecbridge.config import open_connector, open_index, parse_filterable
    from vecbridge.ingest import IngestError, IngestInterrupted
    from vecbridge.ingest.sync import SOURCE_KEY, Cleanup, sync as run_sync
    from vecbridge.state import load_state

    if engine != "inprocess":
        fail(
            f"--engine {engine}: sync runs in process only; the Ray engine has no content hashes or cleanup "
            "(use `vecbridge ingest --engine ray` for a one-shot load, then `vecbridge sync` to keep it in sync)",
            EXIT_USAGE,
        )
    if cleanup not in {c.value for c in Cleanup}:
        fail(f"--cleanup {cleanup}: choose one of {[c.value for c in Cleanup]}", EXIT_USAGE)
    try:
        settings = cli_settings(collection=collection)
        name = settings.collection
        connector = open_connector(settings)
        try:
            new = load_state(connector, name, settings) is None
        finally:
            connector.close()
        declared = parse_filterable(filterable)
        if new:  # a new collection can filter by source key: cleanup reads only its own documents
            declared = {**declared, SOURCE_KEY: "string"}
        index = open_index(settings, declared or None, corpus=lambda: _texts(source, format))
    except VecbridgeError as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted before anything was synced", EXIT_INTERRUPTED)
    dead_letter = dead_letter or Path(f"{source.name}.{name}.dead-letter.jsonl")
    try:
        report = run_sync(
            index,
            source,
            source_key=source_key,
            cleanup=cleanup,
            format=format,
            chunk_tokens=chunk_tokens,
            overlap=overlap,
            dead_letter=dead_letter,
            batch_size=batch_size,
            progress=progress,
        )
    except IngestInterrupted as exc:
        _say(f"{exc.message}; run the sync again (what was written is skipped)", "yellow")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except IngestError as exc:
        fail(str(exc), EXIT_PROBLEMS)
    except VecbridgeError as exc:
        fail(str(exc), EXIT_USAGE)
    finally:
        index.connector.close()
    _say(f"{report.summary()}  ({report.encoded} encoded; source key {report.source!r})")
    if report.dead_lettered:
        _say(f"dead letters: {report.dead_lettered} rows in {report.dead_letter}", "red")
    if report.cleanup_skipped:
        _say(f"cleanup skipped: {report.cleanup_skipped}", "red")
    if not report.ok:
        raise typer.Exit(code=EXIT_PROBLEMS)


def _texts(source: Path, format: Optional[InputFormat]):
    """Texts of the source (a new collection's BM25 statistics are fitted on them)."""
    from vecbridge.ingest import open_source

    return (r.document.text for r in open_source(source, format).records() if r.document is not None)


def register(app: typer.Typer) -> None:
    app.command(name="sync")(sync)
