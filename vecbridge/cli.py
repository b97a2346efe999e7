"""The ``vecbridge`` command line (typer)."""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from vecbridge.schemas import SearchMode, Settings
from vecbridge.cli_common import console, fail, typer_app, user_errors

app = typer_app(help="vecbridge: hybrid (dense + sparse) retrieval over Milvus or Elasticsearch.", no_args_is_help=True)

QUICKSTART_QUERIES: list[tuple[str, Optional[dict]]] = [
    ("how do sparse and dense retrieval get combined?", None),
    ("what hormone controls blood sugar?", None),
    ("中国最长的河流是哪条？", None),
    ("绿茶 龙井", {"key": "lang", "op": "==", "value": "zh"}),
    ("vector database", {"key": "year", "op": ">=", "value": 2021}),
]


def sample_corpus_path() -> Path:
    """The small English + Chinese corpus that ships with the package."""
    return Path(str(resources.files("vecbridge") / "data" / "sample_corpus.jsonl"))


def _settings(**overrides: Optional[str]) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def print_hits(query: str, hits, filter_: Optional[dict] = None) -> None:
    """A table of hits; query, ids and texts are printed verbatim (the console has markup off)."""
    title = Text.assemble((query, "bold"), f"  filter={json.dumps(filter_, ensure_ascii=False)}" if filter_ else "")
    table = Table(title=title, title_justify="left")
    for column in ("#", "id", "score", "dense rank", "sparse rank"):
        table.add_column(column, no_wrap=True, min_width=max(len(column), 6 if column == "id" else 1))
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=58)
    for i, hit in enumerate(hits, 1):
        ranks = hit.ranks

        def rank(name: str) -> str:  # "off": the retriever did not run (language-aware fusion)
            return "off" if hit.retrievers and name not in hit.retrievers else str(ranks.get(name, "-"))

        table.add_row(str(i), hit.id, f"{hit.score:.4f}", rank("dense"), rank("sparse"), hit.text)
    console.print(table)


@app.command()
def quickstart(
    db: Path = typer.Option(Path("vecbridge_quickstart.db"), help="Milvus Lite database file to create."),
    k: int = typer.Option(5, help="Hits per query."),
) -> None:
    """Index the bundled English/Chinese sample corpus into embedded Milvus Lite and run hybrid queries."""
    from vecbridge.config import open_index
    from vecbridge.ingest import read_jsonl

    corpus = sample_corpus_path()
    with user_errors():
        settings = Settings(backend="milvus", uri=str(db), collection="quickstart", state_dir=str(db) + ".state")
        index = open_index(
            settings, filterable={"lang": "string", "topic": "string", "year": "int"},
            corpus=lambda: (d.text for d in read_jsonl(corpus)),
        )
        report = index.upsert(read_jsonl(corpus), progress=True)
        console.print(f"indexed {report.written} documents into {db} (collection 'quickstart'; "
                      f"dense={settings.dense_model}, sparse={settings.sparse_model})")
        for query, filter_ in QUICKSTART_QUERIES:
            print_hits(query, index.search(query, k=k, filter=filter_), filter_)
        index.connector.close()


from vecbridge.cli_ingest import register as _register_ingest  # noqa: E402

_register_ingest(app)


@app.command()
def search(
    query: str = typer.Argument(..., help="Query text."),
    k: int = typer.Option(10, help="Number of hits."),
    mode: SearchMode = typer.Option(SearchMode.HYBRID, help="dense | sparse | hybrid."),
    filter_json: Optional[str] = typer.Option(None, "--filter", help='Filter as JSON, e.g. \'{"key":"year","op":">=","value":2020}\'.'),
    rrf_k: float = typer.Option(60.0, help="RRF k."),
    collection: Optional[str] = typer.Option(None, help="Collection name (default: VECBRIDGE_COLLECTION)."),
    rerank_top_n: Optional[int] = typer.Option(None, help="Re-score this many fused hits with VECBRIDGE_RERANKER."),
    profile: Optional[Path] = typer.Option(None, help="Fusion profile JSON from `vecbridge tune` (k, weights, window)."),
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Search a collection built by `vecbridge ingest`."""
    from vecbridge.config import open_index

    try:
        filter_ = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        fail(f"--filter is not valid JSON: {exc}")
    with user_errors():
        settings = _settings(collection=collection)
        index = open_index(settings)
        top_n = rerank_top_n if rerank_top_n is not None else settings.rerank_top_n
        fusion = {"rrf_k": rrf_k} if profile is None else _profile_kwargs(profile, settings)
        hits = index.search(query, k=k, mode=mode, filter=filter_, rerank_top_n=top_n, **fusion)
        index.connector.close()
    if as_json:
        typer.echo(json.dumps([h.model_dump() for h in hits], ensure_ascii=False, indent=2))
    else:
        print_hits(query, hits, filter_)


from vecbridge.cli_eval import register as _register_eval  # noqa: E402

_register_eval(app)

from vecbridge.cli_finetune import register as _register_finetune  # noqa: E402

_register_finetune(app)

from vecbridge.cli_reindex import register as _register_reindex  # noqa: E402

_register_reindex(app)


def _profile_kwargs(path: Path, settings: Settings) -> dict:
    """A tuned profile's fusion arguments, its retrievers mapped onto this index's by model name."""
    from vecbridge.evaluation.profile import FusionProfile

    loaded = FusionProfile.load(path)
    models = {"dense": settings.dense_model, "sparse": settings.sparse_model}
    aliases = {name: field for name, model in loaded.encoders.items() for field, m in models.items() if m == model}
    return loaded.search_kwargs(aliases)


def main() -> None:  # pragma: no cover - console entry point
    logging.basicConfig(level=os.environ.get("VECBRIDGE_LOG_LEVEL", "WARNING"))
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
