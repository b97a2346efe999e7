"""Where an ONNX encoder's time goes, per operator type (onnxruntime's own profiler).

    PYTHONPATH=. python benchmarks/experiments/profile_onnx_ops.py --model all-MiniLM-L6-v2 --texts 128
    PYTHONPATH=. python benchmarks/experiments/profile_onnx_ops.py --bgem3 /tmp/vecbridge_bench_bgem3/checkpoint-2l \
        --quantize int8 --max-length 512 --texts 32     # a bench_bgem3_cpu.py stand-in checkpoint

Loads the ONNX encoder as vecbridge's CPU default does (``load_encoder(backend="onnx", quantize="auto")``:
the int8 graph, one text per run), opens the same graph in a profiling session with the same thread count,
feeds the first ``--texts`` SciFact documents (title + text) one at a time, unpadded, and prints the
kernel time per operator type with its share. ``--bgem3 FOLDER``: the BGE-M3 ONNX encoder of that folder
instead (``--quantize int8`` or ``none``, passages cut at ``--max-length``; export cached in ``FOLDER/onnx``).
Also printed: the time outside the kernels (session overhead, between nodes) as the wall time minus the
kernel time.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_hybrid_search import read_scifact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quantize", default="auto", help="auto (int8 for dense/SPLADE: the default) | int8 | none")
    parser.add_argument("--bgem3", type=Path, help="a BGE-M3 model folder: profile its ONNX graph instead")
    parser.add_argument("--max-length", type=int, default=512, help="BGE-M3 passage max length")
    args = parser.parse_args()
    import onnxruntime as ort

    texts = [d.text for d in read_scifact(args.data, args.texts, 0)[0]]  # title + text, as bench_encoders
    if args.bgem3:
        from vecbridge.encoders.bgem3_onnx import BGEM3OnnxEncoder

        bgem3 = BGEM3OnnxEncoder(
            str(args.bgem3), onnx_dir=args.bgem3 / "onnx", quantize=None if args.quantize == "none" else "int8"
        )
        graph, tokenizer, max_length = bgem3.onnx_path, bgem3.tokenizer, args.max_length
    else:
        from vecbridge.encoders import load_encoder

        encoder = load_encoder(args.model, backend="onnx", quantize=args.quantize)
        graph, tokenizer, max_length = encoder.model.path, encoder.tokenizer, encoder.max_length
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling, options.profile_file_prefix = True, str(Path(tempfile.mkdtemp()) / "ops")
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feeds = [tokenizer([t], truncation=True, max_length=max_length, return_tensors="np") for t in texts]
    start = time.perf_counter()
    for feed in feeds:
        session.run(None, {n: np.asarray(feed[n], dtype=np.int64) for n in names})
    wall = time.perf_counter() - start
    trace = Path(session.end_profiling())
    per_op: collections.Counter[str] = collections.Counter()
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    trace.unlink()
    total = sum(per_op.values())
    tokens = sum(int(f["attention_mask"].sum()) for f in feeds)
    print(
        f"model {args.bgem3 or args.model}, graph {graph.parent.name}/{graph.name}, {len(texts)} texts one at a time "
        f"({tokens / len(texts):.0f} tokens mean), {args.threads} threads, profiling on: {len(texts) / wall:.1f} texts/s"
    )
    print(f"load average {tuple(round(x, 2) for x in os.getloadavg())}")
    print(f"kernel time {total / 1e6:.2f} s of {wall:.2f} s wall ({100 * total / 1e6 / wall:.0f} %)\n")
    print("| operator type | kernel ms | share |")
    print("|---|---:|---:|")
    for op, micros in per_op.most_common():
        print(f"| {op} | {micros / 1e3:.1f} | {100 * micros / total:.1f} % |")


if __name__ == "__main__":
    main()
