"""How much faster can int8 make a transformer on this CPU? int8 vs fp32 GEMM rates, measured.

    PYTHONPATH=. python benchmarks/experiments/gemm_int8_bound.py --rounds 5

For each GEMM shape of the models benchmarked in docs/benchmarks.md (all-MiniLM-L6-v2 run one text of
256 tokens per call; BGE-M3 at 4,096 tokens per call; a 2048^3 square), times in interleaved rounds:
``torch.matmul`` fp32 (what sentence-transformers / FlagEmbedding run), one onnxruntime fp32 ``MatMul``
node, and the same node after vecbridge's int8 recipe (``vecbridge.encoders.onnx_export.quantize_int8``:
``quantize_dynamic``, per-channel, reduce_range; activations quantized per call, as in the encoders).
Prints best-of-round GFLOP/s medians and the int8 / fp32 ratios. The int8 / torch-fp32 ratio bounds
what dynamic int8 can gain over a torch fp32 pipeline whose time is all GEMM: the rest of a forward pass
(attention softmax, LayerNorm, GELU, tokenization) gains less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.timing import timed
from vecbridge.encoders.onnx_export import quantize_int8

# (label, M tokens, K in, N out)
SHAPES = [
    ("MiniLM QKV/out 256x384x384", 256, 384, 384),
    ("MiniLM FFN up 256x384x1536", 256, 384, 1536),
    ("MiniLM FFN down 256x1536x384", 256, 1536, 384),
    ("MiniLM QKV/out, 32 texts 8192x384x384", 8192, 384, 384),
    ("MiniLM FFN up, 32 texts 8192x384x1536", 8192, 384, 1536),
    ("MiniLM FFN down, 32 texts 8192x1536x384", 8192, 1536, 384),
    ("BGE-M3 FFN up 4096x1024x4096", 4096, 1024, 4096),
    ("BGE-M3 FFN down 4096x4096x1024", 4096, 4096, 1024),
    ("square 2048^3", 2048, 2048, 2048),
]


def matmul_graph(path: Path, m: int, k: int, n: int) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = (np.random.default_rng(0).standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["c"])],
        "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--repeats", type=int, default=5, help="least calls per round (more for small shapes); a round keeps its best"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="gemm-int8-"))
    print(f"threads={args.threads} rounds={args.rounds} repeats={args.repeats}")
    print(f"load average at start {tuple(round(x, 2) for x in os.getloadavg())}\n")
    print(
        "| shape | torch fp32 GFLOP/s | onnxruntime fp32 | onnxruntime int8 (vecbridge recipe) "
        "| int8 / ort fp32 | int8 / torch fp32 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, m, k, n in SHAPES:
        fp32 = matmul_graph(work / f"{m}-{k}-{n}.onnx", m, k, n)
        int8 = quantize_int8(fp32, work / f"{m}-{k}-{n}.int8.onnx")
        a = np.random.default_rng(1).standard_normal((m, k), dtype=np.float32)
        ta, tw = (
            torch.from_numpy(a),
            torch.from_numpy(np.ascontiguousarray(np.random.default_rng(0).standard_normal((k, n), dtype=np.float32))),
        )
        s32, s8 = session(fp32, args.threads), session(int8, args.threads)
        calls = {
            "torch": lambda: torch.matmul(ta, tw),
            "ort32": lambda: s32.run(None, {"a": a}),
            "ort8": lambda: s8.run(None, {"a": a}),
        }
        for call in calls.values():
            call()
        repeats = max(args.repeats, int(0.1 / timed(calls["ort32"])))  # >= ~0.1 s of calls per round
        best: dict[str, list[float]] = {name: [] for name in calls}
        for round_ in range(args.rounds):
            for name in list(calls) if round_ % 2 == 0 else list(calls)[::-1]:
                best[name].append(min(timed(calls[name]) for _ in range(repeats)))
        flops = 2.0 * m * k * n
        rate = {name: flops / statistics.median(sec) / 1e9 for name, sec in best.items()}
        print(
            f"| {label} | {rate['torch']:.1f} | {rate['ort32']:.1f} | {rate['ort8']:.1f} "
            f"| {rate['ort8'] / rate['ort32']:.2f}x | {rate['ort8'] / rate['torch']:.2f}x |",
            flush=True,
        )
    print(f"\nload average at end {tuple(round(x, 2) for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
