"""``vecbridge eval`` and ``vecbridge tune``: BEIR evaluation and fusion tuning from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vecbridge.schemas import Settings
from vecbridge.cli_common import console, user_errors
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader

CACHE_DIR = Path(".vecbridge") / "eval"
# Hooks for tests and embedding applications: how encoders are loaded (None: encoders.factory + BM25 fit).
ENCODER_LOADER: Optional[EncoderLoader] = None


def make_connector(backend: str, uri: Optional[str], cache_dir: Path):
    """The store to evaluate on: embedded Milvus Lite under the cache dir by default."""
    from vecbridge.config import open_connector

    if backend == "milvus" and uri is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        uri = str(cache_dir / "milvus.db")
    return open_connector(Settings(backend=backend, **({"uri": uri} if uri else {})))


def encoder_configs(
    retrievers: str, dense_model: str, splade_model: str,
    compare_dense_model: Optional[str] = None, compare_splade_model: Optional[str] = None,
    labels: tuple[str, str] = ("base", "compare"), bm25_model: str = "bm25", text_analyzer: str = "english",
    scripts: Optional[list[str]] = None,
) -> list[EncoderConfig]:
    """Configuration A from the models; B (optional) swaps in the compare models. ``text`` is the
    store's own full-text BM25 with ``text_analyzer``.

    ``scripts``: ``RETRIEVER=CODES`` items (``splade=en``, ``dense=en+zh``, ``dense=all``) that set
    what a retriever covers for language-aware fusion when its model card says nothing (or is wrong).
    """
    names = [r.strip() for r in retrievers.split(",") if r.strip()]
    known = {"bm25": bm25_model, "dense": dense_model, "splade": splade_model, "text": text_analyzer}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise typer.BadParameter(f"--retrievers {retrievers!r}: choose among {sorted(known)}")
    coverage = parse_scripts_options(scripts or [], names)
    base = EncoderConfig(labels[0], {n: known[n] for n in names}, coverage)
    if compare_dense_model is None and compare_splade_model is None:
        return [base]
    other = dict(base.models)
    if compare_dense_model is not None:
        other["dense"] = compare_dense_model
    if compare_splade_model is not None:
        other["splade"] = compare_splade_model
    return [base, EncoderConfig(labels[1], other, coverage)]


SCRIPTS_HELP = ("RETRIEVER=LANGS, e.g. splade=en or dense=en+zh or dense=all: what the retriever's encoder covers "
                "(language-aware fusion), when its model card has no language tags; repeatable.")


def parse_scripts_options(items: list[str], names: list[str]) -> dict[str, tuple[str, ...]]:
    """``["splade=en", "dense=en+zh"]`` -> ``{"splade": ("en",), "dense": ("en", "zh")}`` (checked)."""
    from vecbridge.encoders.scripts import parse_scripts

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in names or not value.strip():
            raise typer.BadParameter(f"--scripts {item!r}: expected RETRIEVER=LANGS with RETRIEVER among {names}")
        codes = tuple(v.strip() for v in value.split("+") if v.strip())
        try:
            parse_scripts(codes)
        except VecbridgeError as exc:
            raise typer.BadParameter(f"--scripts {item!r}: {exc}") from None
        out[name.strip()] = codes
    return out


def _reranker(name: str):
    """A cross-encoder folder (or bundled alias) via ``vecbridge.encoders.factory.load_reranker``."""
    from vecbridge.encoders.factory import load_reranker

    return load_reranker(name)


def eval_command(
    dataset_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."),
    split: str = typer.Option("test", help="qrels split to evaluate."),
    retrievers: str = typer.Option("bm25,dense,splade", help="Retrievers to build, comma-separated (bm25, dense, splade, text: the store's own BM25)."),
    modes: str = typer.Option("all", help="'all' or e.g. 'bm25,dense,bm25+dense' (+ joins retrievers with RRF)."),
    dense_model: str = typer.Option("all-MiniLM-L6-v2", help="Dense model (folder, bundled alias or hub id)."),
    splade_model: str = typer.Option("splade-tiny", help="Learned-sparse model."),
    bm25_model: str = typer.Option("bm25", help="Client-side BM25: 'bm25' or 'bm25:analyzer=english|plain,k1=X,b=Y'."),
    text_analyzer: str = typer.Option("english", help="Analyzer of the 'text' retriever (Milvus: english, chinese, standard)."),
    compare_dense_model: Optional[str] = typer.Option(None, help="Second dense model, shown side by side (e.g. a fine-tuned checkpoint)."),
    compare_splade_model: Optional[str] = typer.Option(None, help="Second learned-sparse model for the side-by-side run."),
    labels: str = typer.Option("base,compare", help="Labels of the two configurations."),
    scripts: list[str] = typer.Option([], "--scripts", help=SCRIPTS_HELP),
    profile: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="Fusion profile from `vecbridge tune` (reported as mode 'tuned')."),
    limit_queries: Optional[int] = typer.Option(None, help="Evaluate only the first N queries."),
    max_docs: Optional[int] = typer.Option(None, help="Corpus slice: judged documents + others up to N."),
    depth: int = typer.Option(100, help="Hits per query that are scored."),
    window: int = typer.Option(100, help="Candidates per retriever for hybrid modes."),
    latency_queries: int = typer.Option(50, help="Queries timed one by one per mode (p50/p95)."),
    test: str = typer.Option("fisher", help="Paired test: fisher (randomization) or student (t-test)."),
    rerank_model: Optional[str] = typer.Option(None, help="Cross-encoder model (encoders.factory.load_reranker); reranks --rerank-mode."),
    rerank_mode: Optional[str] = typer.Option(None, help="Mode to rerank (default: the last mode)."),
    rerank_top_n: int = typer.Option(100, help="Hits reranked per query."),
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
    label_pair = tuple((labels.split(",") + ["compare"])[:2])
    configs = encoder_configs(retrievers, dense_model, splade_model, compare_dense_model, compare_splade_model,
                              label_pair, bm25_model=bm25_model, text_analyzer=text_analyzer,  # type: ignore[arg-type]
                              scripts=scripts)
    with user_errors():
        dataset = load_beir(dataset_dir, split, limit_queries, max_docs)
        options = EvalOptions(
            modes=modes, depth=depth, window=window, latency_queries=latency_queries, test=test,
            profile=FusionProfile.load(profile) if profile else None,
            reranker=_reranker(rerank_model) if rerank_model else None,
            rerank_mode=rerank_mode, rerank_top_n=rerank_top_n, progress=True,
        )
        result = run_eval(dataset, configs, lambda: make_connector(backend, uri, cache_dir), cache_dir, options,
                          loader=ENCODER_LOADER)
    report.print_report(result, console)
    with user_errors():
        report.write_json(result, out_dir / "eval.json")
        report.write_chart(result, out_dir / "eval.png")
        (out_dir / "eval.md").write_text(report.to_markdown(result), encoding="utf-8")
    console.print(f"wrote {out_dir / 'eval.json'}, eval.md and eval.png")


def tune_command(
    dataset_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="BEIR folder."),
    split: str = typer.Option("train", help="Tuning split (never the test split you report)."),
    retrievers: str = typer.Option("bm25,dense,splade", help="Retrievers to fuse, comma-separated."),
    dense_model: str = typer.Option("all-MiniLM-L6-v2"),
    splade_model: str = typer.Option("splade-tiny"),
    method: str = typer.Option("coordinate", help="coordinate (fast) or grid (exhaustive)."),
    metric: str = typer.Option("ndcg@10", help="ranx metric to maximize."),
    min_gain: float = typer.Option(0.0, help="A fused profile must beat the best single retriever by this much on the dev split."),
    window_grid: str = typer.Option("100,200", help="Candidate windows tried (comma-separated); eval fuses max(window, depth)."),
    limit_queries: Optional[int] = typer.Option(None),
    max_docs: Optional[int] = typer.Option(None),
    backend: str = typer.Option("milvus"),
    uri: Optional[str] = typer.Option(None),
    cache_dir: Path = typer.Option(CACHE_DIR),
    out: Path = typer.Option(Path("fusion_profile.json"), help="Fusion profile to write."),
    scripts: list[str] = typer.Option([], "--scripts", help=SCRIPTS_HELP),
) -> None:
    """Tune RRF k, per-retriever weights and window on a train/dev split; write a fusion profile."""
    from vecbridge.evaluation.tuning_job import run_tune

    if split == "test":
        console.print("warning: tuning on the test split; report scores on another split", style="yellow")
    configs = encoder_configs(retrievers, dense_model, splade_model, scripts=scripts)
    with user_errors():
        profile = run_tune(dataset_dir, split, configs[0], lambda: make_connector(backend, uri, cache_dir),
                           cache_dir, method=method, metric=metric, limit_queries=limit_queries,
                           max_docs=max_docs, min_gain=min_gain, window_grid=_ints(window_grid, "--window-grid"),
                           loader=ENCODER_LOADER, console=console)
        profile.save(out)
    console.print(f"wrote {out}")


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected comma-separated integers") from None
    if not values or min(values) <= 0:
        raise typer.BadParameter(f"{option} {text!r}: expected positive integers")
    return values


def register(app: typer.Typer) -> None:
    """Add ``eval``, ``tune`` and the ``data`` sub-app to the main CLI."""
    from vecbridge.cli_data import data_app

    app.command("eval")(eval_command)
    app.command("tune")(tune_command)
    app.add_typer(data_app, name="data")
