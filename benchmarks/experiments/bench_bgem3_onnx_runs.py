"""BGE-M3 ONNX fp32 on CPU: ways to run a batch of passages on one graph, against the encoder's default.

    PYTHONPATH=. python benchmarks/experiments/bench_bgem3_onnx_runs.py                 # ~10 min on 2 cores
    PYTHONPATH=. python benchmarks/experiments/bench_bgem3_onnx_runs.py --passages 32 --rounds 2 --max-lengths 128   # smoke

Same stand-in checkpoint and passages as ``bench_bgem3_cpu.py`` (random BGE-M3-shaped model, 2 layers x
hidden 1024, vocab 250,002; first ``--passages`` SciFact passages). Variants, each over all passages, in
interleaved rounds (order reversed every other round), one process, ``--threads`` intra-op threads:

- ``encoder``: ``BGEM3OnnxEncoder.encode_documents`` (the default: one text per run, tokenization and
  post-processing included);
- ``bare runs``: the same ``session.run`` calls on pre-tokenized texts, nothing else (the encoder's
  Python overhead is the gap to this row);
- ``2 callers, one session``: two threads share the encoder's session, each running whole texts;
- ``2 callers, 1-thread session``: two threads share a single-threaded session of the same graph;
- ``equal-length texts in one run``: texts of the same token count stacked into one unpadded run
  (fp32 only: int8 scales activations per run);
- ``encoder, lanes=2``: ``BGEM3OnnxEncoder(lanes=2)``, two texts at once on two single-threaded sessions.

Reported: docs/s median (min-max) over rounds, the median per-round ratio to ``bare runs``, and % of the
fp32 GEMM ceiling (best 2048^3 GEMM of torch / onnxruntime / numpy, ``bench_bgem3_cpu.gemm_rates``,
measured before and after). The load average is printed beside the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path

import numpy as np

from benchmarks.bench_bgem3_cpu import gemm_rates, load_passages, model_flops, stand_in_checkpoint
from benchmarks.timing import interleaved_rounds, median_range, timed

OUTPUTS = ["dense", "token_weights", "colbert"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vecbridge_bench_bgem3"))
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--passages", type=int, default=192)
    parser.add_argument("--max-lengths", type=lambda s: [int(x) for x in s.split(",")], default=[128, 512])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    from vecbridge.encoders.bgem3 import load_bgem3
    from vecbridge.encoders.onnx_runtime import open_session

    ckpt = stand_in_checkpoint(args.workdir, args.layers)
    passages = load_passages(args.passages)
    rates = [gemm_rates(args.threads)]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for max_length in args.max_lengths:
        encoder = load_bgem3(
            str(ckpt),
            backend="onnx",
            onnx_dir=ckpt / "onnx",
            batch_size=16,
            passage_max_length=max_length,
            num_threads=args.threads,
        )
        laned = load_bgem3(
            str(ckpt),
            backend="onnx",
            onnx_dir=ckpt / "onnx",
            batch_size=16,
            passage_max_length=max_length,
            num_threads=args.threads,
            lanes=2,
        )
        session = encoder.session
        single = open_session(encoder.onnx_path, ["CPUExecutionProvider"], 1)
        ids = encoder.tokenizer(passages, truncation=True, max_length=max_length)["input_ids"]
        texts = [np.asarray([row], dtype=np.int64) for row in ids]
        by_length = sorted(ids, key=len)
        groups = [np.asarray(list(rows), dtype=np.int64) for _, rows in groupby(by_length, key=len)]
        pool = ThreadPoolExecutor(2)

        def runs(on, feeds):
            return lambda _: timed(lambda: [on.run(OUTPUTS, feed(x)) for x in feeds])

        def two_callers(on):
            return lambda _: timed(lambda: list(pool.map(lambda x: on.run(OUTPUTS, feed(x)), texts)))

        variants = {
            "bare runs (one text per run, one session)": runs(session, texts),
            "encoder (default: encode_documents)": lambda _: timed(lambda: encoder.encode_documents(passages)),
            "2 callers, one session": two_callers(session),
            "2 callers, 1-thread session": two_callers(single),
            "equal-length texts in one run": runs(session, groups),
            "encoder, lanes=2 (2 single-threaded sessions, 2 more graph copies)": lambda _: timed(
                lambda: laned.encode_documents(passages)
            ),
        }
        for run in variants.values():  # warm-up
            run(0)
        seconds = interleaved_rounds(variants, args.rounds)
        rates.append(gemm_rates(args.threads))
        ceiling = max(max(r[name] for r in rates) for name in ("torch", "onnxruntime", "numpy"))
        flops = model_flops([len(row) for row in ids], args.layers)
        base = seconds["bare runs (one text per run, one session)"]
        print(
            f"\nmax length {max_length}: {len(passages)} passages, median {statistics.median(map(len, ids)):.0f} "
            f"tokens, {len(groups)} distinct lengths; {args.rounds} rounds; fp32 GEMM ceiling "
            f"{ceiling / 1e9:.1f} GFLOP/s (load average {tuple(round(x, 2) for x in os.getloadavg())})\n"
        )
        print("| variant | docs/s median (min-max) | ratio to bare runs | % of GEMM ceiling |\n|---|---:|---:|---:|")
        for name, values in seconds.items():
            ratios = [b / v for b, v in zip(base, values, strict=True)]
            print(
                f"| {name} | {median_range([len(passages) / v for v in values], '{:.2f}')} "
                f"| {median_range(ratios, '{:.3f}x')} | {100 * flops / statistics.median(values) / ceiling:.0f}% |"
            )
        pool.shutdown()


def feed(ids: np.ndarray) -> dict[str, np.ndarray]:
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


if __name__ == "__main__":
    main()
