"""Evaluation modes (one retriever, or RRF of several) and in-memory fusion of cached candidates."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Optional

from vecbridge import fusion, languages
from vecbridge.encoders.scripts import Scripts
from vecbridge.schemas import ConfigurationError, FusionParams, Hit

Candidates = Mapping[str, Mapping[str, Sequence[Hit]]]  # retriever -> query id -> best-first hits


@dataclass(frozen=True)
class Mode:
    """A retrieval mode: one retriever, or weighted RRF over several with a candidate window."""

    name: str
    retrievers: tuple[str, ...]
    rrf_k: float = fusion.RRF_K
    weights: dict[str, float] = field(default_factory=dict)
    window: Optional[int] = None
    uncovered_factor: float = languages.UNCOVERED_FACTOR  # language-aware fusion (vecbridge/languages.py)
    agreement_top_n: int = fusion.AGREEMENT_TOP_N  # agreement guard (vecbridge/fusion.py)
    disagreement_factor: float = fusion.DISAGREEMENT_FACTOR

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(r for r in self.retrievers if self.weights.get(r, 1.0) > 0)

    @property
    def is_hybrid(self) -> bool:
        return len(self.active) > 1

    def window_for(self, depth: int) -> int:
        """Candidates per retriever, as ``HybridIndex`` computes it (``FusionParams.window_for``)."""
        return max(FusionParams(window=self.window).window_for(depth), depth) if self.is_hybrid else depth


def parse_modes(
    spec: str,
    available: Sequence[str],
    window: Optional[int] = None,
    agreement_top_n: int = fusion.AGREEMENT_TOP_N,
    disagreement_factor: float = fusion.DISAGREEMENT_FACTOR,
) -> list[Mode]:
    """``"bm25,dense,bm25+dense"`` -> modes; ``"all"`` -> every single retriever and every combination
    (fused ones with the given agreement guard)."""
    if spec.strip() == "all":
        combos = [c for n in range(1, len(available) + 1) for c in combinations(available, n)]
    else:
        combos = [tuple(p.strip() for p in part.split("+")) for part in spec.split(",") if part.strip()]
    modes = []
    for combo in combos:
        unknown = [r for r in combo if r not in available]
        if unknown or len(set(combo)) != len(combo):
            raise ConfigurationError(
                f"mode {'+'.join(combo)!r}: retrievers must be distinct names among {list(available)}"
            )
        modes.append(
            Mode(
                "+".join(combo),
                combo,
                window=window if len(combo) > 1 else None,
                agreement_top_n=agreement_top_n,
                disagreement_factor=disagreement_factor,
            )
        )
    if not modes:
        raise ConfigurationError(f"no modes in {spec!r}")
    return modes


def fuse(
    candidates: Candidates,
    mode: Mode,
    query_ids: Sequence[str],
    depth: int,
    queries: Optional[Mapping[str, str]] = None,
    coverage: Optional[Mapping[str, Scripts]] = None,
    fallback: Optional[Collection[str]] = None,
) -> dict[str, list[Hit]]:
    """Top ``depth`` hits per query for ``mode``, from cached per-retriever candidates.

    Exactly what ``HybridIndex`` returns for the same request: with ``queries`` and ``coverage``
    the language rule (``vecbridge.languages``) first picks each query's retrievers and weights;
    then a single retriever's list as is, several fused by ``vecbridge.fusion.rrf`` over their
    first ``window`` candidates with the agreement guard's weights (``vecbridge.fusion.guarded``).
    Without them every query uses the mode's weights.
    """
    active = mode.active
    if not active:
        raise ConfigurationError(f"mode {mode.name!r}: every weight is 0")
    configured = {r: mode.weights.get(r, 1.0) for r in active}
    window = max(FusionParams(window=mode.window).window_for(depth), depth)
    out = {}
    for q in query_ids:
        weights = configured
        if queries is not None and coverage is not None:
            weights = languages.query_weights(queries[q], configured, coverage, mode.uncovered_factor, fallback)
        if len(weights) == 1:
            (name,) = weights
            out[q] = list(candidates[name][q][:depth])
        else:
            lists = {r: candidates[r][q][:window] for r in weights}
            ids = {r: [h.id for h in hits] for r, hits in lists.items()}
            weights, _ = fusion.guarded(ids, weights, mode.agreement_top_n, mode.disagreement_factor)
            out[q] = fusion.rrf(lists, depth, k=mode.rrf_k, weights=weights)
    return out


def rerank(
    results: Mapping[str, Sequence[Hit]],
    queries: Mapping[str, str],
    texts: Mapping[str, str],
    reranker,
    top_n: int,
) -> dict[str, list[Hit]]:
    """Re-order each query's first ``top_n`` hits by ``reranker.score(query, passages)`` (ties by id)."""
    out: dict[str, list[Hit]] = {}
    for q, hits in results.items():
        head, tail = list(hits[:top_n]), list(hits[top_n:])
        if not head:
            out[q] = []
            continue
        scores = [float(s) for s in reranker.score(queries[q], [texts[h.id] for h in head])]
        order = sorted(range(len(head)), key=lambda i: (-scores[i], head[i].id))
        out[q] = [head[i].model_copy(update={"score": scores[i]}) for i in order] + tail
    return out
