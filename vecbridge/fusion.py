"""Rank fusion as pure functions over ranked hit lists. Inputs are never mutated.

RRF is pinned: ``score(d) = sum_i w_i / (k + rank_i(d))``, ranks 1-based, ``k = 60`` by default,
weights default 1, a document absent from a list adds 0, ties broken by ascending id.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Optional

from vecbridge.schemas import Hit, ScoredIds, ids_and_scores, trusted_hit
from vecbridge.schemas.arguments import check_number

RRF_K = 60.0


def _check_weights(lists: Mapping[str, Sequence[Hit]], weights: Optional[Mapping[str, float]]) -> dict[str, float]:
    weights = dict(weights or {})
    unknown = set(weights) - set(lists)
    if unknown:
        raise ValueError(f"weights name retrievers that produced no list: {sorted(unknown)}; lists: {sorted(lists)}")
    for name, weight in weights.items():
        weights[name] = check_number(weight, f"weights[{name!r}]", low=0)
    return {name: weights.get(name, 1.0) for name in lists}


def _fuse(
    lists: Mapping[str, Sequence[Hit]],
    contributions: Mapping[str, Sequence[float]],
    limit: int,
    weights: Mapping[str, float],
) -> list[Hit]:
    total: dict[str, float] = {}
    columns: list[tuple[str, Sequence[float], Optional[Sequence[Hit]], dict[str, int]]] = []
    # per list: name, scores, hits (None for bare ids and scores), position of each id
    for name, hits in lists.items():
        ids, scores = ids_and_scores(hits)
        where = dict(zip(ids, range(len(ids)), strict=True))
        if len(where) != len(ids):
            twice = next(i for n, i in enumerate(ids) if i in ids[:n])
            raise ValueError(f"retriever {name!r} returned id {twice!r} twice")
        add = total.get
        for doc, contribution in zip(ids, contributions[name], strict=True):
            total[doc] = add(doc, 0.0) + contribution  # lists summed in order, as sum_i w_i / (k + rank_i)
        columns.append((name, scores, None if isinstance(hits, ScoredIds) else hits, where))
    top = heapq.nsmallest(limit, total, key=lambda i: (-total[i], i))
    fused = []
    for doc in top:  # ranks, raw scores and content only for the hits returned
        ranks: dict[str, int] = {}
        raw: dict[str, float] = {}
        content: Optional[Hit] = None
        found = False
        for name, list_scores, list_hits, positions in columns:
            position = positions.get(doc)
            if position is None:
                continue
            ranks[name], raw[name] = position + 1, list_scores[position]
            if not found:  # text and metadata of the first list holding the id
                found, content = True, None if list_hits is None else list_hits[position]
        fused.append(
            trusted_hit(  # fields come from validated hits
                {
                    "id": doc,
                    "score": total[doc],
                    "text": "" if content is None else content.text,
                    "metadata": {} if content is None else dict(content.metadata),
                    "ranks": ranks,
                    "scores": raw,
                    "retrievers": list(lists),
                    "weights": dict(weights),
                    "explain": None,
                }
            )
        )
    return fused


def rrf(
    lists: Mapping[str, Sequence[Hit]],
    limit: int,
    k: float = RRF_K,
    weights: Optional[Mapping[str, float]] = None,
) -> list[Hit]:
    """Reciprocal rank fusion of best-first lists keyed by retriever name; top ``limit`` fused hits.

    Each fused hit records every retriever's 1-based rank and raw score in ``ranks``/``scores`` and
    the weights used in ``weights``.
    """
    k = check_number(k, "rrf_k", low=0, low_open=True)
    w = _check_weights(lists, weights)
    contributions = {name: [w[name] / (k + rank) for rank in range(1, len(hits) + 1)] for name, hits in lists.items()}
    return _fuse(lists, contributions, limit, w)


def rrf_ids(lists: Sequence[tuple[Sequence[str], float]], rrf_k: float, window: int, limit: int) -> list[str]:
    """The same RRF on bare ids, for hot loops (fusion tuning): top ``limit`` ids of weighted RRF over
    ``(best-first ids, weight)`` lists, each cut at ``window``; ties by ascending id."""
    scores: dict[str, float] = {}
    for ids, weight in lists:
        for rank, doc in enumerate(ids[:window], start=1):
            scores[doc] = scores.get(doc, 0.0) + weight / (rrf_k + rank)
    return heapq.nsmallest(limit, scores, key=lambda d: (-scores[d], d))


def minmax(scores: Sequence[float], higher_is_better: bool = True) -> list[float]:
    """Scores mapped to [0, 1], best = 1; a constant list maps to all 1."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high == low:
        return [1.0] * len(scores)
    if higher_is_better:
        return [(s - low) / (high - low) for s in scores]
    return [(high - s) / (high - low) for s in scores]


def linear(
    lists: Mapping[str, Sequence[Hit]],
    limit: int,
    weights: Optional[Mapping[str, float]] = None,
    higher_is_better: Optional[Mapping[str, bool]] = None,
) -> list[Hit]:
    """Weighted sum of min-max-normalized scores (per list); a missing document adds 0."""
    w = _check_weights(lists, weights)
    direction = dict(higher_is_better or {})
    contributions = {
        name: [w[name] * s for s in minmax(ids_and_scores(hits)[1], direction.get(name, True))]
        for name, hits in lists.items()
    }
    return _fuse(lists, contributions, limit, w)


# ---- agreement guard: a safety net for what the language rule cannot know -------------------
AGREEMENT_TOP_N = 10
DISAGREEMENT_FACTOR = 0.5


def agreement(lists: Mapping[str, Sequence[str]], top_n: int = AGREEMENT_TOP_N) -> dict[str, int]:
    """Per retriever: the most ids its first ``top_n`` share with any other retriever's first
    ``top_n`` (0: it agrees with nobody). A lone retriever has nothing to agree with: ``top_n``."""
    top_n = int(check_number(top_n, "agreement_top_n", low=1))
    heads = {name: set(ids[:top_n]) for name, ids in lists.items()}
    if len(heads) < 2:
        return {name: top_n for name in heads}
    return {name: max(len(head & other) for o, other in heads.items() if o != name) for name, head in heads.items()}


def guard_weights(
    weights: Mapping[str, float], overlaps: Mapping[str, int], factor: float = DISAGREEMENT_FACTOR
) -> dict[str, float]:
    """Weights after the agreement guard: a retriever whose top list shares nothing with any other
    (``overlaps[name] == 0``) gets its weight times ``factor`` (1: the guard is off). When no
    retriever agrees with any other, nobody can be singled out: the weights stay as they are."""
    factor = check_number(factor, "disagreement_factor", low=0)
    if all(overlaps.get(n, 0) == 0 for n in weights):
        return dict(weights)
    return {n: (w * factor if overlaps.get(n, 0) == 0 else w) for n, w in weights.items()}


def guarded(
    lists: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
    top_n: int = AGREEMENT_TOP_N,
    factor: float = DISAGREEMENT_FACTOR,
) -> tuple[dict[str, float], dict[str, int]]:
    """``(weights after the guard, overlaps)`` of best-first id lists keyed by retriever."""
    overlaps = agreement(lists, top_n)
    return guard_weights(weights, overlaps, factor), overlaps
