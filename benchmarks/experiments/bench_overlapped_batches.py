"""int8 encoders: two batches in flight on the lanes (the default) vs one batch after the other, and the
graph alone as the ceiling.

    PYTHONPATH=. python benchmarks/experiments/bench_overlapped_batches.py --docs 384 --rounds 6

One process, the first ``--docs`` SciFact documents (title + text), all-MiniLM-L6-v2 int8 through
``encode_documents`` (tokenization and pooling included), batch size 32: with ``overlaps_batches`` as the
model sets it (two batches in flight on two lanes) and with it off (the previous behaviour); beside them the
graph alone on the same texts tokenized before timing, one text per run on two one-thread sessions
(``bench_fastembed_encoder.graph_alone``). Interleaved rounds, order reversed every other round. Printed:
docs/s per round and the load average; then per variant the median and the ratio to the sequential batches
per round, and whether both encoder variants give the same vectors bit for bit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_fastembed_encoder import graph_alone, scifact_texts, tokenized
from vecbridge.encoders import load_encoder
from vecbridge.encoders.onnx_runtime import default_lanes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--docs", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    texts = scifact_texts(args.data, args.docs)
    overlapped: Any = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8")
    sequential: Any = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8")
    sequential.model.overlaps_batches = False
    assert overlapped.model.overlaps_batches, "needs at least two CPUs (lanes)"
    ceiling = graph_alone(
        overlapped.model.path, tokenized(overlapped.tokenizer, texts, overlapped.max_length, 1), default_lanes()
    )
    same = np.array_equal(overlapped.encode_documents(texts[:40]).dense, sequential.encode_documents(texts[:40]).dense)
    variants = {
        "two batches in flight (default)": lambda: overlapped.encode_documents(texts),
        "one batch after the other": lambda: sequential.encode_documents(texts),
        "ceiling: the graph alone, one text per run on the lanes": ceiling,
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            variants[name]()
            rates[name].append(len(texts) / (time.perf_counter() - start))
        print(f"round {r + 1}: " + ", ".join(f"{n}: {v[-1]:.1f}" for n, v in rates.items()), end="")
        print(f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    base = rates["one batch after the other"]
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        print(
            f"{name}: {statistics.median(values):.1f} docs/s, vs one batch after the other "
            f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"same vectors bit for bit: {same}")


if __name__ == "__main__":
    main()
