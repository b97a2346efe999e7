"""Reusable timing helpers for benchmarks: latency percentiles and interleaved A/B runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def latencies_ms(fn: Callable[[Any], Any], inputs: Sequence[Any], warmup: int = 5) -> np.ndarray:
    """Call ``fn(x)`` for each input (after ``warmup`` untimed calls); per-call wall time in ms."""
    for x in inputs[:warmup]:
        fn(x)
    out = np.empty(len(inputs))
    for i, x in enumerate(inputs):
        start = time.perf_counter()
        fn(x)
        out[i] = (time.perf_counter() - start) * 1000.0
    return out


def percentiles(samples_ms: np.ndarray) -> dict[str, float]:
    return {"p50": float(np.percentile(samples_ms, 50)), "p95": float(np.percentile(samples_ms, 95))}


def timed(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(variants: dict[str, Callable[[int], dict[str, float]]], reps: int) -> dict[str, dict[str, float]]:
    """Run each variant ``reps`` times, alternating the order every repetition (ABBA...), and
    return per variant the median of each metric it reports."""
    names = list(variants)
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(variants[name](rep))
    return {n: {m: statistics.median(r[m] for r in runs[n]) for m in runs[n][0]} for n in names}


def ratio(ours: float, base: float) -> float:
    return ours / base if base else float("nan")


def interleaved_rounds(variants: dict[str, Callable[[int], float]], rounds: int) -> dict[str, list[float]]:
    """Each variant once per round, the order reversed every other round; every round's value per variant."""
    names = list(variants)
    values: dict[str, list[float]] = {n: [] for n in names}
    for rnd in range(rounds):
        for name in names if rnd % 2 == 0 else names[::-1]:
            values[name].append(float(variants[name](rnd)))
    return values


def median_range(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """``median (min–max)`` of per-round values."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"
