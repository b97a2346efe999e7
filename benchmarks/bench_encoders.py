"""Document encoding throughput on CPU: vecbridge torch vs ONNX fp32 vs ONNX int8 vs sentence-transformers.

    PYTHONPATH=. python benchmarks/bench_encoders.py --n 1000 --rounds 4 [--model all-MiniLM-L6-v2] [--splade splade-tiny]
    PYTHONPATH=. python benchmarks/bench_encoders.py --n 64 --rounds 2   # smoke

The first ``--n`` SciFact documents (title + text) are encoded whole by each variant once per round,
the order reversed every other round; docs/s per round, median and range, ratios to
sentence-transformers (dense) or to vecbridge's torch path (SPLADE). Load average printed beside.

int8 runs each text alone (``OnnxModel.per_text``: a text's vector must not depend on its batch);
"int8, batched" is the same graph fed whole padded batches (batch-dependent vectors), for comparison.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.bench_hybrid_search import read_scifact
from benchmarks.timing import interleaved_rounds, machine_line, median_range, timed, write_results
from vecbridge.encoders import load_encoder
from vecbridge.encoders.loading import resolve_model_path


def report(title: str, values: dict[str, list[float]], base: str) -> dict[str, list[float]]:
    print(f"\n{title}  ({machine_line()})\n")
    print(f"| variant | docs/s, median (range) | ratio to {base}, median (range) |\n|---|---:|---:|")
    for name, vals in values.items():
        print(
            f"| {name} | {median_range(vals, '{:.1f}')} | "
            f"{median_range([v / b for v, b in zip(vals, values[base], strict=True)], '{:.2f}')} |"
        )
    return values


def batched(encoder):
    """``encoder`` (ONNX int8) fed whole padded batches instead of one text at a time."""
    encoder.model.per_text = False
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--splade", default="none")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    docs, _ = read_scifact(args.data, args.n, 0)
    texts = [d.text for d in docs]
    common = {"batch_size": args.batch_size}
    variants = {
        "vecbridge torch": load_encoder(args.model, backend="torch", device="cpu", **common),
        "vecbridge onnx fp32": load_encoder(args.model, backend="onnx", **common),
        "vecbridge onnx int8": load_encoder(args.model, backend="onnx", quantize="int8", **common),
        "vecbridge onnx int8, batched": batched(load_encoder(args.model, backend="onnx", quantize="int8", **common)),
    }
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(resolve_model_path(args.model)), device="cpu")
    runs = {
        name: (lambda _, e=e: len(texts) / timed(lambda: e.encode_documents(texts))) for name, e in variants.items()
    }
    runs["sentence-transformers"] = lambda _: (
        len(texts) / timed(lambda: st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True))
    )
    print(f"n={len(texts)} rounds={args.rounds} batch_size={args.batch_size}")
    results = {
        "docs_per_s": {
            "dense": report(f"Dense {args.model}", interleaved_rounds(runs, args.rounds), "sentence-transformers")
        }
    }
    if args.splade != "none":
        splade = {
            "vecbridge torch": load_encoder(args.splade, backend="torch", device="cpu", **common),
            "vecbridge onnx fp32": load_encoder(args.splade, backend="onnx", **common),
            "vecbridge onnx int8": load_encoder(args.splade, backend="onnx", quantize="int8", **common),
            "vecbridge onnx int8, batched": batched(
                load_encoder(args.splade, backend="onnx", quantize="int8", **common)
            ),
        }
        runs = {
            name: (lambda _, e=e: len(texts) / timed(lambda: e.encode_documents(texts))) for name, e in splade.items()
        }
        results["docs_per_s"]["splade"] = report(
            f"SPLADE {args.splade}", interleaved_rounds(runs, args.rounds), "vecbridge torch"
        )
    results["settings"] = {"n": len(texts), "model": args.model, "splade": args.splade, "batch_size": args.batch_size}
    print(f"results: {write_results('bench_encoders', results, args.rounds)}")


if __name__ == "__main__":
    main()
