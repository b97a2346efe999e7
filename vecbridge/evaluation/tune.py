"""Deterministic search over RRF k, per-retriever weights (0 allowed) and candidate window.

Candidates are retrieved once at the largest window; every setting is fused in memory and scored
per query with ranx (cached, so any subset of the queries is scored without fusing again). The inner
loop uses ``vecbridge.fusion.rrf_ids``, the pinned formula of ``vecbridge.fusion.rrf`` on bare ids
(same additions in the same order, same tie-break), about ten times faster than building ``Hit``
objects; the chosen setting is what ``fuse``/``HybridIndex`` return (tests check both agree).

``coordinate`` (default): coordinate ascent over the grids, one axis at a time, from every single
retriever, from equal weights and from ``restarts`` random settings drawn with ``seed``.
``grid``: every combination of the grids. With ``folds`` > 1 the chosen setting is the one whose
neighbourhood (the settings one grid step away on any axis) scores best on average, which prefers
a broad optimum to a narrow peak, and a k-fold cross-validation on the tuning queries estimates
what the search gives on queries it did not see (``TuneResult.cv_scores``).
Single-retriever settings (one weight > 0) are always evaluated first, so the returned setting can
never score below the best single mode on the tuning split.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from vecbridge import languages
from vecbridge.encoders.scripts import Scripts
from vecbridge.evaluation import metrics
from vecbridge.evaluation.modes import Candidates, Mode
from vecbridge.fusion import AGREEMENT_TOP_N, DISAGREEMENT_FACTOR, guarded, rrf_ids
from vecbridge.schemas import ConfigurationError

K_GRID = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 100.0, 200.0)
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
# Windows start at 100: ``eval`` scores 100 hits per query and the facade fuses
# ``max(window, k)`` candidates, so smaller windows would be tuned but never evaluated as tuned.
WINDOW_GRID = (100, 200)
METHODS = ("coordinate", "grid")
RESTARTS = 2  # defaults of ``vecbridge tune``: random ascent starts besides the singles and equal weights
FOLDS = 3  # and cross-validation folds (robust choice, held-out estimate)

Setting = tuple[float, int, tuple[float, ...]]  # (rrf_k, window, weights in retriever order)


@dataclass
class TuneResult:
    best: Mode
    score: float
    single_scores: dict[str, float]
    equal_score: float
    evaluations: int
    history: list[tuple[Setting, float]] = field(default_factory=list)
    cv_scores: dict[str, float] = field(default_factory=dict)
    """k-fold estimates on held-out tuning queries: ``tuned``, ``equal``, ``best single`` (empty: no CV)."""


def _cutoff(metric: str) -> int:
    _, _, k = metric.partition("@")
    return int(k) if k else 1000


class _RankTable:
    """Every query's candidates as one padded array, for fusing all queries at once.

    ``fuse`` is ``rrf_ids`` vectorized: the same terms ``w / (k + rank)`` added in retriever order
    (a document absent from a list, or past the window, adds 0.0, which changes no sum), and
    documents held sorted by id so a stable sort on the score breaks ties by ascending id.
    """

    def __init__(self, ids: Mapping[str, Mapping[str, Sequence[str]]], qids: Sequence[str], retrievers: Sequence[str]):
        import numpy as np

        self.qids = list(qids)
        self.docs: list[list[str]] = []
        width = 1
        for q in qids:
            self.docs.append(sorted({d for r in retrievers for d in ids[r][q]}))
            width = max(width, len(self.docs[-1]))
        self.ranks = np.zeros((len(qids), width, len(retrievers)), dtype=np.int64)  # 0: not in that list
        for row, q in enumerate(qids):
            position = {d: i for i, d in enumerate(self.docs[row])}
            for col, r in enumerate(retrievers):
                for rank, doc in enumerate(ids[r][q], start=1):
                    self.ranks[row, position[doc], col] = rank
        self.filled = np.array([len(d) for d in self.docs])
        # a list naming a document twice counts it twice in rrf_ids; such input takes that path
        self.exact = all(len(set(ids[r][q])) == len(ids[r][q]) for r in retrievers for q in qids)

    def fuse(self, rrf_k: float, window: int, weights: Sequence[float], limit: int) -> dict[str, list[str]]:
        import numpy as np

        total = np.zeros(self.ranks.shape[:2])
        for col, weight in enumerate(weights):
            if weight > 0:
                ranks = self.ranks[:, :, col]
                inside = (ranks > 0) & (ranks <= window)
                total = total + np.where(inside, weight / (rrf_k + np.where(inside, ranks, 1)), 0.0)
        order = np.argsort(-total, axis=1, kind="stable")[:, :limit]
        out = {}
        for row, q in enumerate(self.qids):
            docs = self.docs[row]
            out[q] = [docs[i] for i in order[row] if i < self.filled[row] and total[row, i] > 0]
        return out


class _Scorer:
    """Scores settings on the tuning queries; per-query scores memoized by the setting's canonical form."""

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
        # the vectorized fusion knows neither the language rule nor the guard: used only when both are off
        table = _RankTable(self.ids, qids, retrievers) if covered is None and guard[1] == 1.0 else None
        self.table = table if table is not None and table.exact else None
        self.cache: dict[tuple, list[float]] = {}
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

    def per_query(self, setting: Setting) -> list[float]:
        """The metric of each tuning query (in ``qids`` order) under ``setting``."""
        key = self.key(setting)
        if key not in self.cache:
            rrf_k, window, weights = setting
            window = max(window, self.depth)
            if self.table is not None and sum(w > 0 for w in weights) > 1:
                fused = self.table.fuse(rrf_k, window, weights, self.depth)
            else:
                fused = {}
                for q in self.qids:
                    lists = self.query_lists(q, weights, window)
                    # one list: the facade returns it as is, whatever the window (RRF keeps its order)
                    one = len(lists) == 1
                    fused[q] = lists[0][0][: self.depth] if one else rrf_ids(lists, rrf_k, window, self.depth)
            scores = metrics.per_query(self.qrels, metrics.run_from_ids(fused, "tune"), self.metric)
            self.cache[key] = [scores[q] for q in self.qids]
            self.history.append((setting, sum(self.cache[key]) / len(self.qids)))
        return self.cache[key]

    def __call__(self, setting: Setting, subset: Optional[Sequence[int]] = None) -> float:
        """Mean metric over all tuning queries, or over the queries at positions ``subset``."""
        values = self.per_query(setting)
        if subset is None:
            return sum(values) / len(values)
        return sum(values[i] for i in subset) / len(subset)


@dataclass(frozen=True)
class _Space:
    """The grids searched; ``axes`` are 0 = k, 1 = window, 2 + i = weight of retriever i."""

    k_grid: tuple[float, ...]
    window_grid: tuple[int, ...]
    weight_grid: tuple[float, ...]
    n: int

    def grid(self, axis: int) -> tuple[float, ...]:
        if axis == 0:
            return self.k_grid
        if axis == 1:
            return tuple(float(v) for v in self.window_grid)
        return self.weight_grid

    def along(self, current: Setting, axis: int, values: Sequence[float]) -> list[Setting]:
        """Settings equal to ``current`` except on ``axis``, one per value."""
        rrf_k, window, weights = current
        if axis == 0:
            return [(float(v), window, weights) for v in values]
        if axis == 1:
            return [(rrf_k, int(v), weights) for v in values]
        i = axis - 2
        return [(rrf_k, window, weights[:i] + (float(w),) + weights[i + 1 :]) for w in values]

    def value(self, setting: Setting, axis: int) -> float:
        return setting[0] if axis == 0 else float(setting[1]) if axis == 1 else setting[2][axis - 2]

    def neighbours(self, setting: Setting) -> list[Setting]:
        """Settings one grid step away on one axis (values off the grid have none on that axis)."""
        out = []
        for axis in range(2 + self.n):
            grid = self.grid(axis)
            value = self.value(setting, axis)
            if value not in grid:
                continue
            i = grid.index(value)
            steps = [grid[j] for j in (i - 1, i + 1) if 0 <= j < len(grid)]
            out += [s for s in self.along(setting, axis, steps) if any(w > 0 for w in s[2])]
        return out

    def random_setting(self, rng: random.Random) -> Setting:
        weights = tuple(rng.choice(self.weight_grid) for _ in range(self.n))
        if not any(w > 0 for w in weights):
            weights = (1.0,) * self.n
        return (rng.choice(self.k_grid), rng.choice(self.window_grid), weights)


def _single(i: int, n: int, window: int) -> Setting:
    return (60.0, window, tuple(float(i == j) for j in range(n)))


def _search(
    scorer: _Scorer,
    space: _Space,
    subset: Optional[Sequence[int]],
    method: str,
    restarts: int,
    seed: int,
    max_rounds: int,
    visit: Callable[[], None],
) -> list[Setting]:
    """Every setting the search scored, best first (by mean over ``subset``; ties: first scored)."""
    n, window = space.n, max(space.window_grid)
    starts = [_single(i, n, window) for i in range(n)] + [(60.0, window, (1.0,) * n)]
    rng = random.Random(seed)
    starts += [space.random_setting(rng) for _ in range(restarts)]
    seen: dict[Setting, float] = {}

    def score(setting: Setting) -> float:
        if setting not in seen:
            seen[setting] = scorer(setting, subset)
            visit()
        return seen[setting]

    for setting in starts:
        score(setting)
    if method == "grid":
        for rrf_k, win, weights in itertools.product(
            space.k_grid, space.window_grid, itertools.product(space.weight_grid, repeat=n)
        ):
            if any(w > 0 for w in weights):
                score((float(rrf_k), int(win), tuple(float(w) for w in weights)))
    else:
        best_start = max(starts[: n + 1], key=lambda s: seen[s])  # ties: the first
        origins = list(dict.fromkeys([starts[n], best_start, *starts[n + 1 :]]))
        for origin in origins:
            current = origin
            for _ in range(max_rounds):
                before = current
                for axis in range(2 + n):
                    for setting in space.along(current, axis, space.grid(axis)):
                        if any(w > 0 for w in setting[2]) and score(setting) > score(current) + 1e-12:
                            current = setting
                if current == before:
                    break
    order = list(seen)
    return sorted(order, key=lambda s: (-seen[s], order.index(s)))


def _robust_best(
    scorer: _Scorer, space: _Space, ranked: Sequence[Setting], subset: Optional[Sequence[int]], top: int
) -> Setting:
    """Among the ``top`` best settings, the one whose neighbourhood (itself included) scores best on average."""

    def smoothed(setting: Setting) -> float:
        group = [setting, *space.neighbours(setting)]
        return sum(scorer(s, subset) for s in group) / len(group)

    pool = list(ranked[:top])
    values = [smoothed(s) for s in pool]
    return pool[max(range(len(pool)), key=lambda i: (values[i], -i))]


def _folds(count: int, folds: int, seed: int) -> list[list[int]]:
    """Query positions split into ``folds`` near-equal groups after a seeded shuffle."""
    positions = list(range(count))
    random.Random(seed).shuffle(positions)
    return [sorted(positions[f::folds]) for f in range(folds)]


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
    restarts: int = 0,
    seed: int = 0,
    folds: int = 0,
    top: int = 20,
) -> TuneResult:
    """Best setting by ``metric`` on the queries of ``qrels``; ties keep the earlier setting.

    ``min_gain``: a fused setting must beat the best single retriever by at least this much, else
    that single retriever is returned (guards small dev sets against overfitting the fusion).
    ``queries`` + ``coverage``: settings are scored with the language rule, as ``eval`` and
    ``search`` apply it (``vecbridge.languages``). ``guard``: the agreement guard's ``(top_n,
    factor)`` (``vecbridge.fusion.guarded``), applied to every fused setting as ``search`` applies it.
    ``restarts``: extra coordinate-ascent starts drawn at random (with ``seed``) from the grids.
    ``folds`` > 1: pick, among the ``top`` settings found, the one with the best neighbourhood
    average, and estimate the search's held-out score by ``folds``-fold cross-validation.
    """
    if len(retrievers) < 1:
        raise ConfigurationError("tune needs at least one retriever")
    if method not in METHODS:
        raise ConfigurationError(f"method must be one of {list(METHODS)}, got {method!r}")
    if restarts < 0:
        raise ConfigurationError(f"restarts must be >= 0, got {restarts!r}")
    if folds < 0 or folds == 1:
        raise ConfigurationError(f"folds must be 0 (no cross-validation) or >= 2, got {folds!r}")
    if top < 1:
        raise ConfigurationError(f"top must be >= 1, got {top!r}")
    if not window_grid or not k_grid or not weight_grid:
        raise ConfigurationError("k_grid, weight_grid and window_grid must not be empty")
    qids = sorted(qrels)
    if folds > len(qids):
        raise ConfigurationError(f"folds must be at most the number of tuning queries ({len(qids)}), got {folds!r}")
    covered = None
    if queries is not None and coverage is not None:
        covered = {q: languages.covering(queries[q], retrievers, coverage, fallback) for q in qids}
    scorer = _Scorer(candidates, metrics.to_qrels(qrels), retrievers, qids, metric, covered, uncovered_factor, guard)
    n = len(retrievers)
    space = _Space(
        tuple(float(k) for k in k_grid), tuple(int(w) for w in window_grid), tuple(float(w) for w in weight_grid), n
    )
    max_window = max(window_grid)
    equal: Setting = (60.0, max_window, (1.0,) * n)

    def visit() -> None:
        if progress is not None:
            progress(len(scorer.cache), max(score for _, score in scorer.history))

    def choose(subset: Optional[Sequence[int]]) -> Setting:
        ranked = _search(scorer, space, subset, method, restarts, seed, max_rounds, visit)
        best = _robust_best(scorer, space, ranked, subset, top) if folds > 1 else ranked[0]
        singles = [_single(i, n, max_window) for i in range(n)]
        top_single = max(singles, key=lambda s: (scorer(s, subset), -singles.index(s)))
        if scorer(best, subset) < scorer(top_single, subset) + min_gain:
            return top_single
        return best

    best = choose(None)
    cv_scores: dict[str, float] = {}
    if folds > 1:
        held_out = {"tuned": 0.0, "equal": 0.0, "best single": 0.0}
        for fold in _folds(len(qids), folds, seed):
            rest = sorted(set(range(len(qids))) - set(fold))
            singles = [_single(i, n, max_window) for i in range(n)]
            top_single = max(singles, key=lambda s: (scorer(s, rest), -singles.index(s)))
            for name, setting in (("tuned", choose(rest)), ("equal", equal), ("best single", top_single)):
                held_out[name] += scorer(setting, fold) * len(fold)
        cv_scores = {name: total / len(qids) for name, total in held_out.items()}
    singles_by_name = {r: scorer(_single(i, n, max_window)) for i, r in enumerate(retrievers)}
    return TuneResult(
        scorer.mode(best),
        scorer(best),
        singles_by_name,
        scorer(equal),
        len(scorer.cache),
        scorer.history,
        cv_scores,
    )
