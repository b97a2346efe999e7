"""Shared helpers of the maintained benchmarks: latency percentiles, interleaved rounds, the machine
line printed beside every table, and the JSON results the benchmarks page cites."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
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


# --- machine and results: every maintained benchmark prints the first and writes the second ---

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_ISA_FLAGS = ("avx512_vnni", "avx_vnni", "avx512f", "avx2", "amx_int8")


def machine_info() -> dict[str, Any]:
    """CPU model, the SIMD instruction sets that decide int8/fp32 speed, cores and the load average now."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model,
        "isa": [f for f in _ISA_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line() -> str:
    """One printable line: ``cpu | isa: avx2 | 2 cores | load 0.41 0.52 0.60``."""
    info = machine_info()
    return (
        f"{info['cpu']} | isa: {' '.join(info['isa']) or 'none of ' + '/'.join(_ISA_FLAGS)} | "
        f"{info['cores']} cores | load {' '.join(f'{x:.2f}' for x in info['load'])}"
    )


def write_results(name: str, results: dict[str, Any], rounds: int, out_dir: Path | None = None) -> Path:
    """Write ``results/<name>.json`` with the command, date, machine, load and rounds beside ``results``.

    The benchmarks page cites these files, so a figure always comes with how it was taken.
    """
    out = (out_dir or RESULTS_DIR) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "command": " ".join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "rounds": rounds,
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return out
