"""``vecbridge data from-beir``: index the corpus (or reuse it), rank each query, write examples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

from vecbridge.connectors import Connector
from vecbridge.evaluation.candidates import split_candidates
from vecbridge.evaluation.encoders import EncoderConfig, EncoderLoader
from vecbridge.evaluation.hard_negatives import build_examples, parse_range, write_jsonl
from vecbridge.evaluation.modes import Mode, fuse


def mine(
    dataset_dir: Path,
    split: str,
    config: EncoderConfig,
    connector_factory: Callable[[], Connector],
    cache_dir: Path,
    out: Path,
    range_for_sampling: str = "2-200",
    negatives: int = 15,
    seed: int = 42,
    prompt: Optional[str] = None,
    limit_queries: Optional[int] = None,
    max_docs: Optional[int] = None,
    loader: Optional[EncoderLoader] = None,
    progress: bool = True,
) -> int:
    """Write the training file; returns the number of examples."""
    start, end = parse_range(range_for_sampling)
    dataset, names, candidates, coverage, fallback = split_candidates(
        dataset_dir, split, config, connector_factory, cache_dir, end, limit_queries, max_docs, loader, progress
    )
    ranked = fuse(
        candidates,
        Mode("+".join(names), tuple(names), window=end),
        list(dataset.queries),
        end,
        dataset.queries,
        coverage,
        fallback,
    )
    texts = {d.id: d.text for d in dataset.corpus.values()}
    examples = build_examples(dataset.queries, dataset.qrels, texts, ranked, start, end, negatives, seed, prompt)
    write_jsonl(examples, out)
    return len(examples)
