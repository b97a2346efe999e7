"""``vecbridge search``: query a collection built by ``vecbridge ingest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from vecbridge.cli.common import fail, print_hits, settings, user_errors
from vecbridge.schemas import FilterError, SearchMode, Settings
from vecbridge.schemas.filters import filter_json as filter_json_text


def search(
    query: str = typer.Argument(..., help="Query text."),
    k: int = typer.Option(10, "--k", "-k", help="Number of hits."),
    mode: SearchMode = typer.Option(SearchMode.HYBRID, help="dense | sparse | hybrid."),
    filter_json: Optional[str] = typer.Option(
        None, "--filter", help='Filter as JSON, e.g. \'{"key":"year","op":">=","value":2020}\'.'
    ),
    rrf_k: float = typer.Option(60.0, help="RRF k."),
    collection: Optional[str] = typer.Option(None, help="Collection name (default: VECBRIDGE_COLLECTION)."),
    rerank_top_n: Optional[int] = typer.Option(None, help="Re-score this many fused hits with VECBRIDGE_RERANKER."),
    profile: Optional[Path] = typer.Option(
        None, help="Fusion profile JSON from `vecbridge tune` (k, weights, window)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
    explain: bool = typer.Option(
        False, "--explain", help="Per hit, how each retriever took part: ran or why not, rank, score, weight."
    ),
) -> None:
    """Search a collection built by `vecbridge ingest`."""
    from vecbridge.config import open_index

    try:
        filter_ = filter_json_text(filter_json) if filter_json else None
    except FilterError as exc:
        fail(exc)
    with user_errors():
        config = settings(collection=collection)
        index = open_index(config, create=False)
        top_n = rerank_top_n if rerank_top_n is not None else config.rerank_top_n
        fusion = {"rrf_k": rrf_k} if profile is None else _profile_kwargs(profile, config)
        hits = index.search(query, k=k, mode=mode, filter=filter_, rerank_top_n=top_n, explain=explain, **fusion)
        index.connector.close()
    if as_json:
        typer.echo(json.dumps([h.model_dump() for h in hits], ensure_ascii=False, indent=2))
    else:
        print_hits(query, hits, filter_)
        if explain:
            print_explain(hits)


EXPLAIN_COLUMNS = ("retriever", "ran", "why", "coverage", "overlap", "rank", "score", "weight")


def print_explain(hits: list[Any]) -> None:
    """One table per hit: ``vecbridge.explain.explain_rows``."""
    from rich.table import Table

    from vecbridge.cli.common import console
    from vecbridge.explain import explain_rows

    for position, hit in enumerate(hits, 1):
        table = Table(title=f"{position}. {hit.id}  (fused score {hit.score:.4g})", title_justify="left")
        for column in EXPLAIN_COLUMNS:
            table.add_column(column, overflow="fold")
        for row in explain_rows(hit):
            table.add_row(*(row[c] for c in EXPLAIN_COLUMNS))
        console.print(table)


def _profile_kwargs(path: Path, config: Settings) -> dict[str, Any]:
    """A tuned profile's fusion arguments, its retrievers mapped onto this index's by model name."""
    from vecbridge.evaluation.profile import FusionProfile

    loaded = FusionProfile.load(path)
    models = {"dense": config.dense_model, "sparse": config.sparse_model}
    aliases = {name: field for name, model in loaded.encoders.items() for field, m in models.items() if m == model}
    return loaded.search_kwargs(aliases)


def register(app: typer.Typer) -> None:
    """Add ``search`` to the main CLI."""
    app.command()(search)
