"""int8 encoders' batches: ``TextLanes`` (several texts at once on single-threaded sessions) vs one session
running the texts one after the other on its intra-op threads (the previous behaviour).

    PYTHONPATH=. python benchmarks/experiments/bench_text_lanes.py --texts 128 --rounds 6

Both variants run the same int8 graph one text at a time through ``encode_documents`` (tokenization and
pooling included) over the first ``--texts`` SciFact documents, ``--threads`` threads each (default: the
CPUs this process may use), in interleaved rounds (order reversed every other round). Printed: texts/s
median (range) per model and variant, the ratio to the one-session variant, whether both give the same
vectors bit for bit, and the load average at each round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_hybrid_search import read_scifact
from vecbridge.encoders import load_encoder
from vecbridge.encoders.onnx_runtime import TextLanes, default_lanes

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact"
MODELS = {"all-MiniLM-L6-v2": "dense", "splade-tiny": "sparse"}


def _vectors(result, kind: str) -> list[np.ndarray]:
    if kind == "dense":
        return list(result.dense)
    return [np.concatenate([v.indices.astype(np.float64), v.values]) for v in result.sparse]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=default_lanes())
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    docs, _ = read_scifact(DATA, args.texts, 0)
    texts = [d.text for d in docs]
    for name in args.models.split(","):
        encoder = load_encoder(name, backend="onnx", quantize="int8", num_threads=args.threads)
        path = encoder.model.path
        runners = {
            "one session, texts one after the other": TextLanes(path, num_threads=args.threads, lanes=1),
            f"TextLanes, {args.threads} texts at once": TextLanes(path, num_threads=args.threads),
        }
        outputs, rates = {}, {label: [] for label in runners}

        def run(label: str) -> None:
            encoder.model.each_text = runners[label]
            start = time.perf_counter()
            outputs[label] = _vectors(encoder.encode_documents(texts), MODELS[name])
            rates[label].append(len(texts) / (time.perf_counter() - start))

        for label in runners:  # warm-up (opens the lane sessions), untimed
            run(label)
            rates[label].clear()
        labels = list(runners)
        for rnd in range(args.rounds):
            for label in labels if rnd % 2 == 0 else labels[::-1]:
                run(label)
            print(
                f"{name} round {rnd + 1}: "
                + ", ".join(f"{lb} {rates[lb][-1]:.1f}" for lb in labels)
                + f"  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        same = all(np.array_equal(a, b) for a, b in zip(*outputs.values(), strict=True))
        base = statistics.median(rates[labels[0]])
        print(
            f"\n{name} int8, {len(texts)} SciFact documents, {args.threads} threads, {args.rounds} rounds, "
            f"load average {os.getloadavg()}; identical vectors: {same}"
        )
        print("| variant | texts/s median (range) | ratio |\n|---|---:|---:|")
        for label in labels:
            r = rates[label]
            print(
                f"| {label} | {statistics.median(r):.1f} ({min(r):.1f}–{max(r):.1f}) | "
                f"{statistics.median(r) / base:.3f}x |"
            )
        print()


if __name__ == "__main__":
    main()
