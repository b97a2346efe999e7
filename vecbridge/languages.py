"""Language-aware fusion: which retrievers take part in a query, decided by the query's script.

The rule (pure, the same for ``HybridIndex`` and for ``vecbridge eval`` / ``tune`` fusing cached
candidates):

1. Each retriever has a coverage: the set of scripts its encoder declares (``vecbridge.encoders.scripts``;
   ``None`` = every script: multilingual models, models whose languages are unknown, and the
   store's own text search).
2. The query's scripts are the scripts that make up more than ``MIN_SCRIPT_SHARE`` (20 %) of its
   letters (digits and punctuation do not count), so a stray symbol does not change the language:
   "NF-κB essential modulator" stays Latin, "什么是BM25算法" is Han + Latin.
3. A retriever *covers* the query when its coverage contains every script of the query; a query
   without letters is covered by everyone.
4. A retriever that does not cover the query gets weight ``uncovered_factor`` (default 0: it does
   not run); the others keep their weight.
5. When no selected retriever covers the query, the *fallback* retrievers keep their weights and
   the others are scaled as in step 4. The fallback is every retriever but the learned-sparse ones
   (``vecbridge.encoders.coverage.runs_uncovered``): a SPLADE model's expansions of a language it
   was not trained on are noise, while a dense vector or BM25's terms degrade without inventing
   terms. With no fallback retriever selected, all keep their weights: dropping everything would
   return nothing.

Example: an English-only dense model (model card ``language: en`` -> Latin) and BM25 (Latin + Han
with jieba). "中国最长的河流是哪条？" has script Han: only BM25 runs. "What is BM25?" is Latin:
both run, fused as configured. With an English dense model and an English SPLADE model only, the
Chinese query is covered by neither: the dense model runs alone (step 5).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Optional

from vecbridge.encoders.scripts import Scripts, text_scripts

UNCOVERED_FACTOR = 0.0
MIN_SCRIPT_SHARE = 0.2


def query_scripts(query: str) -> frozenset[str]:
    """The scripts of ``query`` that the rule looks at (step 2)."""
    return text_scripts(query, MIN_SCRIPT_SHARE)


def covers(coverage: Scripts, query_scripts: frozenset[str]) -> bool:
    """Whether a retriever with ``coverage`` handles every script of the query."""
    return coverage is None or query_scripts <= coverage


def query_weights(
    query: str,
    weights: Mapping[str, float],
    coverage: Mapping[str, Scripts],
    uncovered_factor: float = UNCOVERED_FACTOR,
    fallback: Optional[Collection[str]] = None,
) -> dict[str, float]:
    """The weights the language rule gives ``query``: retriever -> weight, only those above 0.

    ``weights`` are the configured weights of the selected retrievers (in order); a retriever
    missing from ``coverage`` covers every script. ``fallback``: the retrievers that keep running
    when none covers the query (step 5; ``None``: all of them).
    """
    return apply_rule(weights, covering(query, list(weights), coverage, fallback), uncovered_factor)


def covering(
    query: str, names: Sequence[str], coverage: Mapping[str, Scripts], fallback: Optional[Collection[str]] = None
) -> frozenset[str]:
    """The retrievers among ``names`` that run at full weight for ``query``: those that cover it, or,
    when none does, those in ``fallback`` (step 5; precomputed once per query by the tuner)."""
    scripts = query_scripts(query)
    covered = frozenset(n for n in names if covers(coverage.get(n), scripts))
    if not covered and fallback is not None:
        covered = frozenset(n for n in names if n in fallback)
    return covered


def apply_rule(weights: Mapping[str, float], covered: Collection[str], uncovered_factor: float) -> dict[str, float]:
    """Steps 4 of the rule on known coverage: uncovered retrievers scaled by ``uncovered_factor``,
    all kept as configured when none is covered; only weights above 0 are returned, in order."""
    if not uncovered_factor >= 0:
        raise ValueError(f"uncovered_factor must be >= 0, got {uncovered_factor!r}")
    if not any(n in covered for n in weights):
        return {n: w for n, w in weights.items() if w > 0}
    out = {n: (w if n in covered else w * uncovered_factor) for n, w in weights.items()}
    return {n: w for n, w in out.items() if w > 0}


def participating(
    query: str, names: Sequence[str], coverage: Mapping[str, Scripts], fallback: Optional[Collection[str]] = None
) -> list[str]:
    """The retrievers (in order) that run for ``query`` at equal weights and uncovered weight 0."""
    return list(query_weights(query, {n: 1.0 for n in names}, coverage, fallback=fallback))
