"""``vecbridge reindex --sparse``: recount a collection's BM25 statistics and re-encode its sparse vectors.

Run it while nothing else writes to the collection. On a collection built with frozen BM25
statistics (an older vecbridge) it is the migration to statistics that follow the corpus."""

from __future__ import annotations

from typing import Optional

import typer
from rich.text import Text

from vecbridge.cli.common import console, fail, settings as cli_settings, user_errors


def reindex(
    sparse: bool = typer.Option(False, "--sparse", help="Re-encode the BM25 sparse vectors (the only kind for now)."),
    collection: Optional[str] = typer.Option(None, help="Collection name (default: VECBRIDGE_COLLECTION)."),
    batch_size: int = typer.Option(256, min=1, help="Documents read and rewritten per batch."),
) -> None:
    """Recount BM25 statistics from the stored texts and re-encode every sparse vector with them
    (removes avgdl drift; migrates collections built with frozen statistics)."""
    from vecbridge.config import open_index
    from vecbridge.encoders.bm25 import BM25Encoder
    from vecbridge.reindex import migrate_frozen, reindex_sparse
    from vecbridge.state import load_state

    if not sparse:
        fail("say what to reindex: --sparse (BM25 sparse vectors)")
    with user_errors():
        settings = cli_settings(collection=collection)
        index = open_index(settings)
        try:
            frozen = any(isinstance(r.encoder, BM25Encoder) for r in index.retrievers.values())
            if frozen:
                state = load_state(index.connector, index.spec.name, settings)
                _, report = migrate_frozen(index, state, batch_size=batch_size, progress=True)
                console.print(Text(f"migrated to BM25 statistics that follow the corpus; {report.summary()}"))
            else:
                console.print(Text(reindex_sparse(index, batch_size=batch_size, progress=True).summary()))
        finally:
            index.connector.close()


def register(app: typer.Typer) -> None:
    app.command("reindex")(reindex)
