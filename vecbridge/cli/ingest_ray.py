"""``vecbridge ingest FILE --engine ray``: option checks and error mapping for ``ingest_ray``
(the command itself lives in ``vecbridge/cli/ingest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vecbridge.cli.common import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_USAGE, fail
from vecbridge.ingest.report import IngestError, IngestInterrupted, IngestReport, OnError
from vecbridge.schemas import Settings, VecbridgeError


def run_ray(
    settings: Settings,
    file: Path,
    *,
    format: Any,
    filterable: list[str],
    dead_letter: Path,
    on_error: OnError,
    resume: bool,
    chunk_tokens: Optional[int],
    batch_size: Optional[int],
    address: Optional[str],
    workers: int,
    num_gpus: float,
    progress: bool,
) -> IngestReport:
    """Run the ingestion on Ray; usage errors exit 2, a store failure mid-run 1, Ctrl-C 130."""
    from vecbridge.config import parse_filterable
    from vecbridge.distributed.driver import RayOptions, ingest_ray

    unsupported = {
        "--resume": resume,
        "--on-error stop": on_error is OnError.STOP,
        "--chunk-tokens": chunk_tokens is not None,
    }
    for flag, used in unsupported.items():
        if used:
            fail(
                f"{flag} needs the in-process engine: Ray batches finish out of order and keep no checkpoint "
                "(a rerun with --engine ray is safe: upserts are idempotent)",
                EXIT_USAGE,
            )
    try:
        options = RayOptions(address=address, workers=workers, num_gpus=num_gpus, batch_size=batch_size)
        return ingest_ray(
            settings,
            file,
            filterable=parse_filterable(filterable) or None,
            format=getattr(format, "value", format),
            dead_letter=dead_letter,
            options=options,
            progress=progress,
        )
    except IngestInterrupted as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except IngestError as exc:
        fail(str(exc), EXIT_PROBLEMS)
    except VecbridgeError as exc:
        fail(str(exc), EXIT_USAGE)
