"""``vecbridge eval``: evaluate retrieval modes on a BEIR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vecbridge.cli.common import console, user_errors
from vecbridge.cli.eval_setup import CACHE_DIR, SCRIPTS_HELP, EvalServices, encoder_configs


def _reranker(name: str):
    """A cross-encoder folder (or bundled alias) via ``vecbridge.encoders.factory.load_reranker``."""
    from vecbridge.encoders.factory import load_reranker

    return load_reranker(name)


def guard_options(disagreement_factor: Optional[float]) -> dict[str, Any]:
    """The agreement guard's settings: ``Settings`` (``VECBRIDGE_FUSION_*``), the option overriding."""
    from vecbridge.schemas import Settings
    from vecbridge.schemas.arguments import check_number

    settings = Settings()
    factor = settings.fusion_disagreement_factor
    if disagreement_factor is not None:
        factor = check_number(disagreement_factor, "--disagreement-factor", low=0)
    return {"agreement_top_n": settings.fusion_agreement_top_n, "disagreement_factor": factor}


def eval_command(
    ctx: typer.Context,
    dataset_dir: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."
    ),
    split: str = typer.Option("test", help="qrels split to evaluate."),
    retrievers: str = typer.Option(
        "bm25,dense,splade",
        help="Retrievers to build, comma-separated (bm25, dense, splade, text: the store's own BM25).",
    ),
    modes: str = typer.Option("all", help="'all' or e.g. 'bm25,dense,bm25+dense' (+ joins retrievers with RRF)."),
    dense_model: str = typer.Option("all-MiniLM-L6-v2", help="Dense model (folder, bundled alias or hub id)."),
    splade_model: str = typer.Option("splade-tiny", help="Learned-sparse model."),
    bm25_model: str = typer.Option("bm25", help="Client-side BM25: 'bm25' or 'bm25:analyzer=english|plain,k1=X,b=Y'."),
    text_analyzer: str = typer.Option(
        "english", help="Analyzer of the 'text' retriever (Milvus: english, chinese, standard)."
    ),
    compare_dense_model: Optional[str] = typer.Option(
        None, help="Second dense model, shown side by side (e.g. a fine-tuned checkpoint)."
    ),
    compare_splade_model: Optional[str] = typer.Option(
        None, help="Second learned-sparse model for the side-by-side run."
    ),
    labels: str = typer.Option("base,compare", help="Labels of the two configurations."),
    scripts: list[str] = typer.Option([], "--scripts", help=SCRIPTS_HELP),
    profile: Optional[Path] = typer.Option(
        None, exists=True, dir_okay=False, help="Fusion profile from `vecbridge tune` (reported as mode 'tuned')."
    ),
    limit_queries: Optional[int] = typer.Option(None, help="Evaluate only the first N queries."),
    max_docs: Optional[int] = typer.Option(None, help="Corpus slice: judged documents + others up to N."),
    depth: int = typer.Option(100, help="Hits per query that are scored."),
    window: int = typer.Option(100, help="Candidates per retriever for hybrid modes."),
    latency_queries: int = typer.Option(50, help="Queries timed one by one per mode (p50/p95)."),
    test: str = typer.Option("fisher", help="Paired test: fisher (randomization) or student (t-test)."),
    rerank_model: Optional[str] = typer.Option(
        None, help="Cross-encoder model (encoders.factory.load_reranker); reranks --rerank-mode."
    ),
    rerank_mode: Optional[str] = typer.Option(None, help="Mode to rerank (default: the last mode)."),
    rerank_top_n: int = typer.Option(100, help="Hits reranked per query."),
    disagreement_factor: Optional[float] = typer.Option(
        None,
        help="Agreement guard of fused modes: weight multiplier of a retriever whose top hits share nothing "
        "with the others' (1: off; default VECBRIDGE_FUSION_DISAGREEMENT_FACTOR, 0.5).",
    ),
    backend: str = typer.Option("milvus", help="milvus (Lite file by default) or elasticsearch (VECBRIDGE_ES_* env)."),
    uri: Optional[str] = typer.Option(None, help="Milvus URI (default: CACHE_DIR/milvus.db)."),
    cache_dir: Path = typer.Option(CACHE_DIR, help="BM25 statistics, index manifests, Milvus Lite file."),
    out_dir: Path = typer.Option(Path("eval_results"), help="Where eval.json and eval.png are written."),
) -> None:
    """Evaluate retrieval modes on a BEIR dataset (nDCG@10, R@100, MRR@10, MAP via ranx)."""
    from vecbridge.evaluation import report
    from vecbridge.evaluation.beir import load_beir
    from vecbridge.evaluation.profile import FusionProfile
    from vecbridge.evaluation.runner import EvalOptions, run_eval

    if test not in ("fisher", "student"):
        raise typer.BadParameter(f"--test {test!r}: choose fisher or student")
    first, second = (labels.split(",") + ["compare"])[:2]
    label_pair = (first, second)
    configs = encoder_configs(
        retrievers,
        dense_model,
        splade_model,
        compare_dense_model,
        compare_splade_model,
        label_pair,
        bm25_model=bm25_model,
        text_analyzer=text_analyzer,
        scripts=scripts,
    )
    services = EvalServices.of(ctx)
    with user_errors():
        dataset = load_beir(dataset_dir, split, limit_queries, max_docs)
        options = EvalOptions(
            modes=modes,
            depth=depth,
            window=window,
            latency_queries=latency_queries,
            test=test,
            profile=FusionProfile.load(profile) if profile else None,
            reranker=_reranker(rerank_model) if rerank_model else None,
            rerank_mode=rerank_mode,
            rerank_top_n=rerank_top_n,
            progress=True,
            **guard_options(disagreement_factor),
        )
        result = run_eval(
            dataset,
            configs,
            services.connector_factory(backend, uri, cache_dir),
            cache_dir,
            options,
            loader=services.encoder_loader,
        )
    report.print_report(result, console)
    with user_errors():
        report.write_json(result, out_dir / "eval.json")
        report.write_chart(result, out_dir / "eval.png")
        (out_dir / "eval.md").write_text(report.to_markdown(result), encoding="utf-8")
    console.print(f"wrote {out_dir / 'eval.json'}, eval.md and eval.png")


def register(app: typer.Typer) -> None:
    """Add ``eval`` to the main CLI."""
    app.command("eval")(eval_command)
