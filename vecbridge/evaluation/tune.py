"""Deterministic search over RRF k, per-retriever weights (0 allowed) and candidate window.

Candidates are retrieved once at the largest window; every setting is fused in memory and scored
with ranx. The inner loop uses ``vecbridge.fusion.rrf_ids``, the pinned formula of ``vecbridge.fusion.rrf`` on bare
ids (same additions in the same order, same tie-break), about ten times faster than building ``Hit``
objects; the chosen setting is what ``fuse``/``HybridIndex`` return (tests check both agree).
Single-retriever settings (one weight > 0) are always evaluated first, so the returned setting can
never score below the best single mode on the tuning split.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from vecbridge import languages
from vecbridge.encoders.scripts import Scripts
from vecbridge.evaluation import metrics
from vecbridge.evaluation.modes import Candidates, Mode
from vecbridge.fusion import AGREEMENT_TOP_N, DISAGREEMENT_FACTOR, guarded, rrf_ids
from vecbridge.schemas import ConfigurationError

K_GRID = (1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 100.0, 200.0)
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
# Windows start at 100: ``eval`` scores 100 hits per query and the facade fuses
# ``max(window, k)`` candidates, so smaller windows would be tuned but never evaluated as tuned.
WINDOW_GRID = (100, 200)

Setting = tuple[float, int, tuple[float, ...]]  # (rrf_k, window, weights in retriever order)


@dataclass
class TuneResult:
    best: Mode
    score: float
    single_scores: dict[str, float]
    equal_score: float
    evaluations: int
    history: list[tuple[Setting, float]] = field(default_factory=list)


def _cutoff(metric: str) -> int:
    _, _, k = metric.partition("@")
    return int(k) if k else 1000


class _Scorer:
    """Scores settings on the tuning queries, memoized by their canonical form."""

    def __init__(
        self,
        candidates: Candidates,
        qrels,
        retrievers: Sequence[str],
        qids: Sequence[str],
        metric: str,
        covered: Optional[Mapping[str, frozenset[str]]] = None,
        uncovered_factor: float = languages.UNCOVERED_FACTOR,
        guard: tuple[int, float] = (AGREEMENT_TOP_N, DISAGREEMENT_FACTOR),
    ):
        self.qrels, self.retrievers, self.qids, self.metric = qrels, retrievers, qids, metric
        self.guard = guard  # the agreement guard's (top_n, factor), as HybridIndex applies it
        # language-aware fusion: the retrievers covering each query (None: all of them, the rule is off)
        self.covered, self.uncovered_factor = covered, uncovered_factor
        self.ids = {r: {q: [h.id for h in candidates[r][q]] for q in qids} for r in retrievers}
        self.depth = _cutoff(metric)
        self.cache: dict[tuple, float] = {}
        self.history: list[tuple[Setting, float]] = []

    def key(self, setting: Setting) -> tuple:
        rrf_k, window, weights = setting
        top = max(weights)
        active = [i for i, w in enumerate(weights) if w > 0]
        if len(active) == 1:  # one list: k, window and scale cannot change its order
            return ("single", active[0])
        return (rrf_k, max(window, self.depth), tuple(round(w / top, 9) for w in weights))

    def mode(self, setting: Setting, name: str = "tuned") -> Mode:
        rrf_k, window, weights = setting
        return Mode(
            name,
            tuple(self.retrievers),
            rrf_k,
            dict(zip(self.retrievers, weights, strict=True)),
            window,
            self.uncovered_factor,
            *self.guard,
        )

    def query_lists(self, q: str, weights: tuple[float, ...], window: int = 0) -> list[tuple[list[str], float]]:
        """``(ids, weight)`` of the retrievers that run for query ``q`` (the language rule applied)."""
        configured = {r: w for r, w in zip(self.retrievers, weights, strict=True) if w > 0}
        if self.covered is not None:
            configured = languages.apply_rule(configured, self.covered[q], self.uncovered_factor)
        if len(configured) > 1:
            window = max(window, self.depth)
            heads = {r: self.ids[r][q][:window] for r in configured}
            configured, _ = guarded(heads, configured, *self.guard)
        return [(self.ids[r][q], w) for r, w in configured.items()]

    def __call__(self, setting: Setting) -> float:
        key = self.key(setting)
        if key not in self.cache:
            rrf_k, window, weights = setting
            window = max(window, self.depth)
            fused = {}
            for q in self.qids:
                lists = self.query_lists(q, weights, window)
                # one list: the facade returns it as is, whatever the window (RRF keeps its order)
                fused[q] = lists[0][0][: self.depth] if len(lists) == 1 else rrf_ids(lists, rrf_k, window, self.depth)
            run = metrics.run_from_ids(fused, "tune")
            self.cache[key] = metrics.evaluate(self.qrels, run, [self.metric])[self.metric]
            self.history.append((setting, self.cache[key]))
        return self.cache[key]


def _axis_settings(
    current: Setting,
    axis: int,
    k_grid: Sequence[float],
    window_grid: Sequence[int],
    weight_grid: Sequence[float],
) -> list[Setting]:
    """Settings that differ from ``current`` on one axis: 0 = k, 1 = window, 2 + i = weight of retriever i."""
    rrf_k, window, weights = current
    if axis == 0:
        return [(float(v), window, weights) for v in k_grid]
    if axis == 1:
        return [(rrf_k, int(v), weights) for v in window_grid]
    i = axis - 2
    return [(rrf_k, window, weights[:i] + (float(w),) + weights[i + 1 :]) for w in weight_grid]


def tune(
    candidates: Candidates,
    qrels: Mapping[str, Mapping[str, int]],
    retrievers: Sequence[str],
    metric: str = "ndcg@10",
    method: str = "coordinate",
    k_grid: Sequence[float] = K_GRID,
    weight_grid: Sequence[float] = WEIGHT_GRID,
    window_grid: Sequence[int] = WINDOW_GRID,
    max_rounds: int = 4,
    min_gain: float = 0.0,
    progress: Optional[Callable[[int, float], None]] = None,
    queries: Optional[Mapping[str, str]] = None,
    coverage: Optional[Mapping[str, Scripts]] = None,
    fallback: Optional[Collection[str]] = None,
    uncovered_factor: float = languages.UNCOVERED_FACTOR,
    guard: tuple[int, float] = (AGREEMENT_TOP_N, DISAGREEMENT_FACTOR),
) -> TuneResult:
    """Best setting by ``metric`` on the queries of ``qrels``; ties keep the earlier setting.

    ``min_gain``: a fused setting must beat the best single retriever by at least this much, else
    that single retriever is returned (guards small dev sets against overfitting the fusion).
    ``queries`` + ``coverage``: settings are scored with the language rule, as ``eval`` and
    ``search`` apply it (``vecbridge.languages``). ``guard``: the agreement guard's ``(top_n,
    factor)`` (``vecbridge.fusion.guarded``), applied to every fused setting as ``search`` applies it.
    """
    if len(retrievers) < 1:
        raise ConfigurationError("tune needs at least one retriever")
    if method not in ("coordinate", "grid"):
        raise ConfigurationError(f"method must be 'coordinate' or 'grid', got {method!r}")
    qids = sorted(qrels)
    covered = None
    if queries is not None and coverage is not None:
        covered = {q: languages.covering(queries[q], retrievers, coverage, fallback) for q in qids}
    scorer = _Scorer(candidates, metrics.to_qrels(qrels), retrievers, qids, metric, covered, uncovered_factor, guard)
    n = len(retrievers)
    max_window = max(window_grid)
    singles = {r: scorer((60.0, max_window, tuple(float(i == j) for j in range(n)))) for i, r in enumerate(retrievers)}
    equal: Setting = (60.0, max_window, (1.0,) * n)
    start = [(60.0, max_window, tuple(float(i == j) for j in range(n))) for i in range(n)] + [equal]
    best, best_score = start[0], scorer(start[0])

    def consider(setting: Setting) -> None:
        nonlocal best, best_score
        if not any(w > 0 for w in setting[2]):
            return
        score = scorer(setting)
        if score > best_score + 1e-12:
            best, best_score = setting, score
        if progress is not None:
            progress(len(scorer.cache), best_score)

    for setting in start:
        consider(setting)
    if method == "grid":
        for rrf_k, window, weights in itertools.product(k_grid, window_grid, itertools.product(weight_grid, repeat=n)):
            consider((float(rrf_k), int(window), tuple(float(w) for w in weights)))
    else:
        # ascend from equal weights and from the best start; the global best is kept throughout
        for origin in dict.fromkeys([equal, best]):
            current, current_score = origin, scorer(origin)
            for _ in range(max_rounds):
                before = current
                for axis in range(2 + n):
                    for setting in _axis_settings(current, axis, k_grid, window_grid, weight_grid):
                        if not any(w > 0 for w in setting[2]):
                            continue
                        consider(setting)
                        if scorer(setting) > current_score + 1e-12:
                            current, current_score = setting, scorer(setting)
                if current == before:
                    break
    top_single = max(range(n), key=lambda i: (singles[retrievers[i]], -i))
    if best_score < singles[retrievers[top_single]] + min_gain:
        best = (60.0, max_window, tuple(float(i == top_single) for i in range(n)))
        best_score = scorer(best)
    return TuneResult(scorer.mode(best), best_score, singles, scorer(equal), len(scorer.cache), scorer.history)
