"""Load a BEIR split, build (or reuse) its index, and fetch each retriever's candidates once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from vecbridge.connectors import Connector
from vecbridge.evaluation.beir import BeirDataset, load_beir
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader, build_retrievers
from vecbridge.evaluation.indexing import ensure_index
from vecbridge.evaluation.retrieval import retrieve_candidates
from vecbridge.evaluation.runner import corpus_cache


def split_candidates(
    dataset_dir: Path,
    split: str,
    config: EncoderConfig,
    connector_factory: Callable[[], Connector],
    cache_dir: Path,
    depth: int,
    limit_queries: Optional[int] = None,
    max_docs: Optional[int] = None,
    loader: Optional[EncoderLoader] = None,
    progress: bool = True,
) -> tuple[BeirDataset, list[str], Any, dict[str, Any], frozenset[str]]:
    """The dataset, its retriever names, their top-``depth`` candidates per query and the scripts
    each retriever covers and the fallback retrievers (for language-aware fusion)."""
    dataset = load_beir(dataset_dir, split, limit_queries, max_docs)
    cache = corpus_cache(cache_dir, dataset)
    retrievers = build_retrievers(config, [d.text for d in dataset.corpus.values()], cache, loader)
    connector = connector_factory()
    try:
        index, _ = ensure_index(connector, dataset, retrievers, config.models, cache, progress=progress)
        names = [r.name for r in retrievers]
        candidates = retrieve_candidates(index, dataset.queries, names, depth, progress=progress)
    finally:
        connector.close()
    return dataset, names, candidates, index.coverage(), index.fallback()
