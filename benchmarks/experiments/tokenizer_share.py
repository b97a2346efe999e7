"""Share of an encoder call spent in its Hugging Face tokenizer (one pass per call since session 8).

    PYTHONPATH=. python benchmarks/experiments/tokenizer_share.py --model all-MiniLM-L6-v2 --backend onnx --quantize int8

Loads the encoder as ``load_encoder`` does, wraps its tokenizer with a timer, encodes the first ``--docs``
SciFact documents (title + text) ``--rounds`` times, and prints per round the wall time, the tokenizer's
time and share, and how many tokenizer calls one ``encode_documents`` made.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks.bench_hybrid_search import read_scifact


class TimedTokenizer:
    """Forwards to a tokenizer, adding each call's wall time to ``seconds``."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.seconds, self.calls = tokenizer, 0.0, 0

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.tokenizer(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--quantize", default="int8", help="int8 | none (onnx only)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--docs", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from vecbridge.encoders import load_encoder

    options = {"quantize": args.quantize} if args.backend == "onnx" and args.quantize != "none" else {}
    encoder = load_encoder(args.model, backend=args.backend, **options)
    texts = [d.text for d in read_scifact(args.data, args.docs, 0)[0]]
    encoder.encode_documents(texts[:32])  # warm-up
    shares = []
    for rnd in range(args.rounds):
        timer = TimedTokenizer(encoder.tokenizer)
        encoder.tokenizer = timer
        start = time.perf_counter()
        encoder.encode_documents(texts)
        wall = time.perf_counter() - start
        encoder.tokenizer = timer.tokenizer
        shares.append(timer.seconds / wall)
        print(
            f"round {rnd + 1}: {wall:.2f} s, tokenizer {timer.seconds:.3f} s = {100 * shares[-1]:.1f} % "
            f"in {timer.calls} call(s); load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    print(
        f"{args.model} ({args.backend}{', ' + args.quantize if options else ''}), {len(texts)} docs: tokenizer share "
        f"median {100 * statistics.median(shares):.1f} %"
    )


if __name__ == "__main__":
    main()
