"""``vecbridge quickstart``: index the bundled sample corpus into Milvus Lite and run demo queries."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Optional

import typer

from vecbridge.cli.common import console, print_hits, user_errors
from vecbridge.schemas import Settings

QUICKSTART_QUERIES: list[tuple[str, Optional[dict[str, Any]]]] = [
    ("how do sparse and dense retrieval get combined?", None),
    ("what hormone controls blood sugar?", None),
    ("中国最长的河流是哪条？", None),
    ("绿茶 龙井", {"key": "lang", "op": "==", "value": "zh"}),
    ("vector database", {"key": "year", "op": ">=", "value": 2021}),
]


def sample_corpus_path() -> Path:
    """The small English + Chinese corpus that ships with the package."""
    return Path(str(resources.files("vecbridge") / "data" / "sample_corpus.jsonl"))


def quickstart(
    db: Path = typer.Option(Path("vecbridge_quickstart.db"), help="Milvus Lite database file to create."),
    k: int = typer.Option(5, "--k", "-k", help="Hits per query."),
) -> None:
    """Index the bundled English/Chinese sample corpus into embedded Milvus Lite and run hybrid queries."""
    from vecbridge.config import open_index
    from vecbridge.ingest import read_jsonl

    corpus = sample_corpus_path()
    with user_errors():
        settings = Settings(backend="milvus", uri=str(db), collection="quickstart", state_dir=str(db) + ".state")
        index = open_index(
            settings,
            filterable={"lang": "string", "topic": "string", "year": "int"},
            corpus=lambda: (d.text for d in read_jsonl(corpus)),
        )
        report = index.upsert(read_jsonl(corpus), progress=True)
        console.print(
            f"indexed {report.written} documents into {db} (collection 'quickstart'; "
            f"dense={settings.dense_model}, sparse={settings.sparse_model})"
        )
        for query, filter_ in QUICKSTART_QUERIES:
            print_hits(query, index.search(query, k=k, filter=filter_), filter_)
        index.connector.close()


def register(app: typer.Typer) -> None:
    """Add ``quickstart`` to the main CLI."""
    app.command()(quickstart)
