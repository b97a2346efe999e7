"""onnxruntime's fused ``SkipLayerNormalization`` vs ``Add`` + ``LayerNormalization`` on this CPU, alone and
inside vecbridge's int8 MiniLM graph.

    PYTHONPATH=. python benchmarks/experiments/bench_layernorm_kernels.py --texts 128 --rounds 4

1. One node on a [1, 239, 384] tensor (a SciFact document's mean length at MiniLM's width), 1 and 2 threads:
   microseconds per call, median of 7 blocks of 200 calls.
2. The int8 MiniLM graph the encoder runs (``SkipLayerNormalization`` unfused into ``Add`` (+ bias ``Add``)
   + ``LayerNormalization`` by ``vecbridge.encoders.onnx_export.unfuse_skip_layer_norm``, onnxruntime's
   ``SkipLayerNormFusion`` off) vs the previous recipe rebuilt from the same fp32 graph (the rewrite
   undone, then the same int8 quantization): texts/s over the first ``--texts`` SciFact
   documents one at a time, interleaved rounds, and the pooled-vector cosine of each to the fp32 graph's
   (the rewrite moves int8 outputs a little: dynamic quantization rounds differently).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_hybrid_search import read_scifact
from vecbridge.encoders.onnx_export import quantize_int8
from vecbridge.encoders.onnx_runtime import DISABLED_OPTIMIZERS as SKIP_FUSION


def fuse_skip_layer_norm(model):
    """``unfuse_skip_layer_norm`` undone: its ``<name>_add`` (+ ``<name>_add_bias``) + ``<name>_ln`` nodes
    back into one com.microsoft ``SkipLayerNormalization`` named ``<name>``."""
    from onnx import helper

    by_name = {node.name: node for node in model.graph.node}
    dropped, nodes = set(), []
    for node in model.graph.node:
        if node.op_type != "LayerNormalization" or not node.name.endswith("_ln"):
            continue
        base = node.name[: -len("_ln")]
        add, bias = by_name.get(f"{base}_add"), by_name.get(f"{base}_add_bias")
        if add is None:
            continue
        total = (bias or add).output[0]
        inputs = list(add.input) + list(node.input[1:]) + ([bias.input[1]] if bias is not None else [])
        if bias is not None and len(node.input) < 3:
            inputs.insert(3, "")
        epsilon = next(a.f for a in node.attribute if a.name == "epsilon")
        nodes.append(
            (
                node.name,
                helper.make_node(
                    "SkipLayerNormalization",
                    inputs,
                    [node.output[0], "", "", total],
                    name=base,
                    domain="com.microsoft",
                    epsilon=epsilon,
                ),
            )
        )
        dropped.update({add.name, node.name} | ({bias.name} if bias is not None else set()))
    replacement = dict(nodes)
    rebuilt = [replacement.get(n.name, n) for n in model.graph.node if n.name not in dropped or n.name in replacement]
    del model.graph.node[:]
    model.graph.node.extend(rebuilt)
    return model


def session(model: Path | bytes, threads: int, disabled: list[str] | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(
        source, options, providers=["CPUExecutionProvider"], **({"disabled_optimizers": disabled} if disabled else {})
    )


def single_node(threads: int) -> dict[str, float]:
    from onnx import TensorProto, helper, numpy_helper

    length, hidden = 239, 384
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), n) for n in ("g", "b", "bias")]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, length, hidden]) for n in ("x", "s", "y")]
    fused = helper.make_graph(
        [
            helper.make_node(
                "SkipLayerNormalization", ["x", "s", "g", "b", "bias"], ["y"], domain="com.microsoft", epsilon=1e-12
            )
        ],
        "fused",
        io[:2],
        io[2:],
        weights,
    )
    plain = helper.make_graph(
        [
            helper.make_node("Add", ["x", "s"], ["t"]),
            helper.make_node("Add", ["t", "bias"], ["u"]),
            helper.make_node("LayerNormalization", ["u", "g", "b"], ["y"], axis=-1, epsilon=1e-12),
        ],
        "plain",
        io[:2],
        io[2:],
        weights,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    feeds = {
        "x": rng.standard_normal((1, length, hidden)).astype(np.float32),
        "s": rng.standard_normal((1, length, hidden)).astype(np.float32),
    }
    out = {}
    for name, graph in (("SkipLayerNormalization", fused), ("Add + LayerNormalization", plain)):
        s = session(
            helper.make_model(graph, opset_imports=opsets, ir_version=8).SerializeToString(), threads, SKIP_FUSION
        )
        for _ in range(50):
            s.run(None, feeds)
        blocks = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(200):
                s.run(None, feeds)
            blocks.append((time.perf_counter() - start) / 200 * 1e6)
        out[name] = statistics.median(blocks)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import onnx

    from vecbridge.encoders import load_encoder

    print(f"load average at start {tuple(round(x, 2) for x in os.getloadavg())}\n")
    print("| threads | SkipLayerNormalization us/call | Add + LayerNormalization us/call | ratio |")
    print("|---:|---:|---:|---:|")
    for threads in (1, 2):
        us = single_node(threads)
        fused, plain = us["SkipLayerNormalization"], us["Add + LayerNormalization"]
        print(f"| {threads} | {fused:.1f} | {plain:.1f} | {fused / plain:.2f}x |", flush=True)

    encoder = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8")
    int8_path = encoder.model.path  # vecbridge's graph: SkipLayerNormalization unfused
    work = Path(tempfile.mkdtemp(prefix="ln-"))
    # the previous recipe: the same fp32 graph with the SkipLayerNormalization nodes put back, then int8
    fused = fuse_skip_layer_norm(onnx.load(str(int8_path.with_name("model.onnx"))))
    fused_ops = sum(n.op_type == "SkipLayerNormalization" for n in fused.graph.node)
    print(f"\nfp32 graph with SkipLayerNormalization put back: {fused_ops} nodes")
    onnx.save(fused, str(work / "fused.onnx"))
    quantize_int8(work / "fused.onnx", work / "fused.int8.onnx")
    graphs = {
        "int8 with fused SkipLayerNormalization (before)": session(work / "fused.int8.onnx", args.threads),
        "int8 with Add + LayerNormalization (vecbridge)": session(int8_path, args.threads, SKIP_FUSION),
    }
    fp32 = session(int8_path.with_name("model.onnx"), args.threads)
    texts = [d.text for d in read_scifact(args.data, args.texts, 0)[0]]  # title + text, as bench_encoders
    names = [i.name for i in fp32.get_inputs()]
    feeds = [
        {n: np.asarray(f[n], dtype=np.int64) for n in names}
        for f in (
            encoder.tokenizer([t], truncation=True, max_length=encoder.max_length, return_tensors="np") for t in texts
        )
    ]

    def pooled(s, feed):
        vector = s.run(None, feed)[0][0].mean(axis=0)
        return vector / np.linalg.norm(vector)

    reference = [pooled(fp32, f) for f in feeds]
    cosine = {n: [float(pooled(s, f) @ r) for f, r in zip(feeds, reference, strict=True)] for n, s in graphs.items()}
    speed: dict[str, list[float]] = {n: [] for n in graphs}
    for round_ in range(args.rounds):
        for name in list(graphs) if round_ % 2 == 0 else list(graphs)[::-1]:
            start = time.perf_counter()
            for feed in feeds:
                graphs[name].run(None, feed)
            speed[name].append(len(feeds) / (time.perf_counter() - start))
    base = speed["int8 with fused SkipLayerNormalization (before)"]
    print(
        f"\n{len(texts)} SciFact texts one at a time, {args.threads} threads, {args.rounds} interleaved rounds; "
        f"load average at end {tuple(round(x, 2) for x in os.getloadavg())}\n"
    )
    print("| graph | texts/s median (range) | ratio | pooled cosine to fp32, median (min) |")
    print("|---|---:|---:|---:|")
    for name, values in speed.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(
            f"| {name} | {statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f}) | {ratio:.3f} "
            f"| {statistics.median(cosine[name]):.5f} ({min(cosine[name]):.5f}) |"
        )


if __name__ == "__main__":
    main()
