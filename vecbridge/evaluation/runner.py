"""``vecbridge eval``: ingest (or reuse) the corpus, retrieve once per retriever, fuse per mode, score with ranx."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vecbridge.connectors import Connector
from vecbridge.evaluation import metrics
from vecbridge.evaluation.beir import BeirDataset
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader, build_retrievers, encode_seconds, reset_timers
from vecbridge.evaluation.indexing import ensure_index
from vecbridge.evaluation.modes import Mode, fuse, parse_modes, rerank
from vecbridge.evaluation.profile import FusionProfile
from vecbridge.evaluation.retrieval import latency_ms, retrieve_candidates
from vecbridge.fusion import AGREEMENT_TOP_N, DISAGREEMENT_FACTOR
from vecbridge.schemas import ConfigurationError


@dataclass
class EvalOptions:
    """What ``run_eval`` runs: modes, scoring depth, hybrid window, latency sample, paired test, profile, rerank."""

    modes: str = "all"
    depth: int = 100
    window: Optional[int] = 100
    latency_queries: int = 50
    test: str = "fisher"
    seed: int = 42
    profile: Optional[FusionProfile] = None
    reranker: Any = None
    rerank_mode: Optional[str] = None
    rerank_top_n: int = 100
    progress: bool = False
    agreement_top_n: int = AGREEMENT_TOP_N  # agreement guard of fused modes (vecbridge/fusion.py)
    disagreement_factor: float = DISAGREEMENT_FACTOR


def corpus_cache(cache_dir: Path, dataset: BeirDataset) -> Path:
    """Per-corpus folder for BM25 statistics and index manifests."""
    return Path(cache_dir) / f"{dataset.name}-{dataset.fingerprint()[:12]}"


def _modes(available: Sequence[str], options: EvalOptions) -> list[Mode]:
    guard = (options.agreement_top_n, options.disagreement_factor)
    modes = parse_modes(options.modes, available, options.window, *guard)
    profile = options.profile
    if profile is not None:
        missing = [r for r in profile.active if r not in available]
        if missing:
            raise ConfigurationError(
                f"fusion profile uses retrievers {missing} that this config lacks ({list(available)})"
            )
        names = tuple(profile.weights)
        modes.append(
            Mode(
                "tuned",
                tuple(n for n in names if n in available),
                profile.rrf_k,
                {n: w for n, w in profile.weights.items() if n in available},
                profile.window,
                profile.uncovered_factor,
                *guard,
            )
        )
    return modes


def evaluate_config(
    connector: Connector,
    dataset: BeirDataset,
    config: EncoderConfig,
    cache_dir: Path,
    options: EvalOptions,
    loader: Optional[EncoderLoader] = None,
) -> dict[str, Any]:
    """Every mode of one encoder configuration: metrics, costs, latency and significance."""
    cache = corpus_cache(cache_dir, dataset)
    retrievers = build_retrievers(config, [d.text for d in dataset.corpus.values()], cache, loader)
    index, stats = ensure_index(connector, dataset, retrievers, config.models, cache, progress=options.progress)
    names = [r.name for r in retrievers]
    modes = _modes(names, options)
    depth = max(m.window_for(options.depth) for m in modes)
    used = [n for n in names if any(n in m.active for m in modes)]
    reset_timers(retrievers)
    candidates = retrieve_candidates(index, dataset.queries, used, depth, progress=options.progress)
    query_seconds = encode_seconds(retrievers, queries=True)
    qids = list(dataset.queries)
    qrels = metrics.to_qrels(dataset.qrels)
    texts = {d.id: d.text for d in dataset.corpus.values()}
    latency_sample = [dataset.queries[q] for q in qids[: options.latency_queries]]
    rows: list[dict[str, Any]] = []
    runs: list[Any] = []
    for mode in modes:
        results = fuse(candidates, mode, qids, options.depth, dataset.queries, index.coverage(), index.fallback())
        entries = [(mode.name, results)]
        if options.reranker is not None and mode.name == (options.rerank_mode or modes[-1].name):
            entries.append(
                (f"{mode.name}>rerank", rerank(results, dataset.queries, texts, options.reranker, options.rerank_top_n))
            )
        for name, res in entries:
            run = metrics.to_run(res, name)
            runs.append(run)
            rows.append(
                {
                    "name": name,
                    "retrievers": list(mode.active),
                    "rrf_k": mode.rrf_k if mode.is_hybrid else None,
                    "weights": {r: mode.weights.get(r, 1.0) for r in mode.active} if mode.is_hybrid else None,
                    "window": mode.window_for(options.depth) if mode.is_hybrid else None,
                    "metrics": metrics.evaluate(qrels, run),
                    "latency": latency_ms(index, latency_sample, mode) if name == mode.name else None,
                }
            )
    singles = [r["name"] for r in rows if len(r["retrievers"]) == 1 and ">" not in r["name"] and r["name"] != "tuned"]
    others = [r["name"] for r in rows if r["name"] not in singles]
    pairs = [(h, s) for h in others for s in singles]
    return {
        "label": config.label,
        "models": dict(config.models),
        "collection": stats.collection,
        "documents": stats.documents,
        "reused_index": stats.reused,
        "encode_seconds": stats.encode_seconds,
        "index_seconds": stats.index_seconds,
        "query_encode_seconds": query_seconds,
        "modes": rows,
        "significance": metrics.significance(qrels, runs, pairs, test=options.test, seed=options.seed),
    }


def run_eval(
    dataset: BeirDataset,
    configs: Sequence[EncoderConfig],
    connector_factory: Callable[[], Connector],
    cache_dir: Path,
    options: EvalOptions,
    loader: Optional[EncoderLoader] = None,
) -> dict[str, Any]:
    """Evaluate each configuration on the same queries; the result is JSON-serializable."""
    out: dict[str, Any] = {
        "dataset": dataset.name,
        "split": dataset.split,
        "queries": len(dataset.queries),
        "documents": len(dataset.corpus),
        "depth": options.depth,
        "metrics": list(metrics.METRICS),
        "significance_test": options.test,
        "notes": list(dataset.notes),
        "configs": [],
        "profile": options.profile.model_dump() if options.profile is not None else None,
    }
    connector = connector_factory()
    try:
        for config in configs:
            out["configs"].append(evaluate_config(connector, dataset, config, cache_dir, options, loader))
    finally:
        connector.close()
    return out
