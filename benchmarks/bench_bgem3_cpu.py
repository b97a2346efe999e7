"""CPU benchmark: BGE-M3 encoding (dense + sparse + ColBERT) — FlagEmbedding vs vecbridge torch / ONNX.

Model: BGE-M3-shaped XLM-RoBERTa with random weights — full width and vocab (hidden 1024, 16 heads,
intermediate 4096, vocab 250,002) but ``--layers`` (default 2) of 24 — with FlagEmbedding's sparse/ColBERT
heads and a small XLM-R tokenizer trained on the fly (speed does not depend on which vocab rows are read).
Input: the first ``--passages`` (default 512) SciFact passages, encoded by ONE timed call per path and max
length (``--max-lengths``, default 128 and 512), batch 16, ``--threads`` threads, every output returned.

Paths run interleaved in ``--rounds`` (default 3): each round runs every path once, in its own subprocess
(load and one small warm-up call untimed), the order reversed every other round. Reported per path and max
length: median docs/s (min–max over rounds), the median over rounds of the per-round speed-up vs
FlagEmbedding and vs vecbridge's torch path, and the share of the path's bound (model FLOPs over unpadded
tokens / time / bound):

- fp32 paths: the fp32 GEMM ceiling, the best 2048^3 fp32 GEMM rate of torch.matmul, onnxruntime (one
  MatMul node) and np.matmul;
- int8: the int8 GEMM rate, one BGE-M3 layer's GEMMs (QKV 1024x3072, out 1024x1024, FFN 1024x4096 and
  4096x1024) at M = the median passage's token count for that max length (one text per run, as the int8
  encoder runs), each a MatMul quantized by ``quantize_dynamic`` and fused by onnxruntime into
  DynamicQuantizeMatMul, best of three recipes (``INT8_VARIANTS``, vecbridge's first).

Both bounds are measured with the same thread count before, between and after the rounds (best over the
run). Goals (issue 25): int8 >= 75 % of the int8 GEMM rate, fp32 >= 85 % of the fp32 ceiling; each is
printed met / NOT met. The machine line (CPU, instruction sets: int8 speed depends on AVX-512 VNNI) is
printed first and beside the table; the load average at each round boundary; "TAKEN UNDER LOAD" if the
1-min value ever exceeded 2.5. Drift of every path vs vecbridge torch fp32 (or ONNX fp32 when torch does
not run; dense cosine, sparse top-10 ids) is measured on the first round's outputs. Everything is written
to benchmarks/results/<--results>.json (``benchmarks.timing.write_results``).

    python benchmarks/bench_bgem3_cpu.py     # repo root, project venv, quiet machine; ~30 min on 2 cores (estimate)
    python benchmarks/bench_bgem3_cpu.py --rounds 2 --passages 256 \
        --paths flagembedding,vecbridge-onnx-fp32,vecbridge-onnx-int8       # the goals only, ~7 min quiet (estimate)
    python benchmarks/bench_bgem3_cpu.py --passages 16 --rounds 1 --max-lengths 64 --layers 1 --results smoke   # smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.timing import machine_line, median_range, timed, write_results  # noqa: E402
from vecbridge.encoders.onnx_export import quantize_int8  # noqa: E402

DATA = ROOT / "../shared/data/scifact"
PATHS = [
    "flagembedding",
    "vecbridge-torch",
    "vecbridge-torch-bf16",
    "vecbridge-onnx-fp32",
    "vecbridge-onnx-fp32-batched",
    "vecbridge-onnx-fp32-lanes",
    "vecbridge-onnx-int8",
]
# onnx fp32: one text per run (the default); -batched: padded batches; -lanes: lanes=2 (two texts at once)
DEFAULT_PATHS = ["flagembedding", "vecbridge-torch", "vecbridge-onnx-fp32", "vecbridge-onnx-int8"]
HIDDEN, HEADS, INTERMEDIATE, VOCAB = 1024, 16, 4096, 250_002
GEMM_SIZE, GEMM_REPEATS, LOAD_LIMIT = 2048, 10, 2.5
INT8_GEMM = "onnxruntime int8"  # not part of the fp32 ceiling
FP32_LIBRARIES = ("torch", "onnxruntime", "numpy")
INT8_GOAL, FP32_GOAL = 0.75, 0.85  # issue 25: share of the int8 GEMM rate / of the fp32 ceiling


def load_passages(n: int) -> list[str]:
    passages = []
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            passages.append(f"{record['title']} {record['text']}".strip())
            if len(passages) >= n:
                break
    return passages


def model_flops(lengths: list[int], layers: int) -> float:
    """Forward FLOPs over unpadded tokens: QKV/out/FFN GEMMs + attention scores/values + ColBERT head."""
    total = 0.0
    for n in lengths:
        gemm = 2 * n * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)
        attention = 2 * 2 * n * n * HIDDEN
        total += layers * (gemm + attention) + 2 * n * HIDDEN * HIDDEN
    return total


def gemm_rates(threads: int, tokens: Sequence[int] = ()) -> dict[str, float]:
    """Best-of-GEMM_REPEATS fp32 GEMM FLOP/s per library (torch, onnxruntime, numpy), ``threads`` threads,
    (key ``INT8_GEMM``) onnxruntime's rate for the same 2048^3 MatMul after vecbridge's int8 recipe, and
    for each token count in ``tokens`` the int8 layer rates of ``int8_layer_rates`` (keys ``int8_key``)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32) for _ in range(2))
    shape = [GEMM_SIZE, GEMM_SIZE]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    onnx.checker.check_model(model)
    with tempfile.TemporaryDirectory() as tmp:  # the same MatMul through vecbridge's int8 recipe
        onnx.save(model, f"{tmp}/gemm.onnx")
        quantize_int8(Path(tmp) / "gemm.onnx", Path(tmp) / "gemm.int8.onnx")
        session8 = ort.InferenceSession(f"{tmp}/gemm.int8.onnx", options, providers=["CPUExecutionProvider"])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    calls = {
        "torch": lambda: torch.matmul(ta, tb),
        "onnxruntime": lambda: session.run(None, {"a": a}),
        "numpy": lambda: np.matmul(a, b),
        INT8_GEMM: lambda: session8.run(None, {"a": a}),
    }
    rates = {}
    for name, call in calls.items():
        call()  # warm-up
        rates[name] = 2 * GEMM_SIZE**3 / min(timed(call) for _ in range(GEMM_REPEATS))
    if tokens:
        rates.update(int8_layer_rates(threads, tokens))
    return rates


# One BGE-M3 layer's GEMMs as the int8 graph runs them, one text of M tokens: (label, K in, N out). The
# fused QAttention projects Q, K and V in one GEMM.
LAYER_GEMMS = [
    ("QKV", HIDDEN, 3 * HIDDEN),
    ("attention out", HIDDEN, HIDDEN),
    ("FFN up", HIDDEN, INTERMEDIATE),
    ("FFN down", INTERMEDIATE, HIDDEN),
]
# int8 MatMul recipes tried for the bound (quantize_dynamic keyword arguments); the first is vecbridge's.
INT8_VARIANTS: dict[str, dict[str, Any]] = {
    "s8 per-channel reduce_range (vecbridge)": {"per_channel": True, "reduce_range": True, "weight": "QInt8"},
    "s8 per-channel full range": {"per_channel": True, "reduce_range": False, "weight": "QInt8"},
    "u8 per-tensor": {"per_channel": False, "reduce_range": False, "weight": "QUInt8"},
}


def int8_key(tokens: int, variant: str) -> str:
    return f"int8 layer M={tokens}: {variant}"


def int8_layer_rates(threads: int, tokens: Sequence[int], min_seconds: float = 0.1) -> dict[str, float]:
    """FLOP/s of one BGE-M3 layer's four GEMMs (``LAYER_GEMMS``) at M = each of ``tokens`` (one text per
    run, as the int8 encoder runs), per ``INT8_VARIANTS`` recipe (keys ``int8_key(m, recipe)``): each shape
    one ``MatMul`` node (M symbolic) quantized by ``quantize_dynamic`` and fused by onnxruntime into
    ``DynamicQuantizeMatMul`` (activations quantized per call, as in the encoder); per shape the best of
    repeated calls (>= ``min_seconds`` of calls), then the layer's total FLOPs / the sum of the best times."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from vecbridge.encoders.export_noise import quiet_export

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    rng = np.random.default_rng(0)
    seconds: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant, recipe in INT8_VARIANTS.items():
            for label, k, n in LAYER_GEMMS:
                weight = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
                graph = helper.make_graph(
                    [helper.make_node("MatMul", ["a", "w"], ["c"])],
                    "gemm",
                    [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", k])],
                    [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["m", n])],
                    [numpy_helper.from_array(weight, "w")],
                )
                fp32, int8 = f"{tmp}/{label}.onnx", f"{tmp}/{label}.int8.onnx"
                onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), fp32)
                with quiet_export():
                    quantize_dynamic(
                        fp32,
                        int8,
                        weight_type=getattr(QuantType, recipe["weight"]),
                        per_channel=recipe["per_channel"],
                        reduce_range=recipe["reduce_range"],
                    )
                session = ort.InferenceSession(int8, options, providers=["CPUExecutionProvider"])
                for m in tokens:
                    feed = {"a": rng.standard_normal((m, k), dtype=np.float32)}
                    session.run(None, feed)  # warm-up
                    repeats = max(GEMM_REPEATS, int(min_seconds / timed(lambda: session.run(None, feed))))
                    best = min(timed(lambda: session.run(None, feed)) for _ in range(repeats))
                    seconds[m, variant] = seconds.get((m, variant), 0.0) + best
    return {
        int8_key(m, variant): sum(2.0 * m * k * n for _, k, n in LAYER_GEMMS) / total
        for (m, variant), total in seconds.items()
    }


def stand_in_checkpoint(workdir: Path, layers: int) -> Path:
    """The BGE-M3-shaped random checkpoint under ``workdir`` (built on first use, reused afterwards)."""
    ckpt = workdir / f"checkpoint-{layers}l"
    if not (ckpt / "colbert_linear.pt").is_file():
        from vecbridge.testing.checkpoints import build_bgem3_checkpoint

        build_s = timed(
            lambda: build_bgem3_checkpoint(
                ckpt,
                hidden=HIDDEN,
                layers=layers,
                heads=HEADS,
                intermediate=INTERMEDIATE,
                vocab_size=VOCAB,
                max_positions=8192,
                tokenizer_vocab=8000,
            )
        )
        print(f"checkpoint built in {build_s:.0f} s", flush=True)
    return ckpt


def make_encoder(path: str, ckpt: Path, threads: int, batch_size: int, max_length: int):
    """``encode(passages)`` for one path at one passage max length (dense + sparse + ColBERT)."""
    if path == "flagembedding":
        from FlagEmbedding import BGEM3FlagModel

        model = BGEM3FlagModel(
            str(ckpt), use_fp16=False, devices="cpu", batch_size=batch_size, passage_max_length=max_length
        )
        return lambda texts: model.encode_corpus(
            texts, max_length=max_length, return_dense=True, return_sparse=True, return_colbert_vecs=True
        )
    from vecbridge.encoders.bgem3 import load_bgem3

    common = dict(batch_size=batch_size, passage_max_length=max_length, num_threads=threads)
    if path.startswith("vecbridge-torch"):
        encoder = load_bgem3(str(ckpt), device="cpu", precision="bf16" if path.endswith("bf16") else "fp32", **common)
    else:
        encoder = load_bgem3(
            str(ckpt),
            backend="onnx",
            onnx_dir=ckpt / "onnx",
            quantize="int8" if path.endswith("int8") else None,
            per_text=not path.endswith("batched"),
            lanes=2 if path.endswith("lanes") else 1,
            **common,
        )
    return encoder.encode_documents


def save_outputs(out, stem: Path) -> None:
    import numpy as np

    if isinstance(out, dict):  # FlagEmbedding
        dense = out["dense_vecs"]
        sparse = [{int(k): float(v) for k, v in d.items()} for d in out["lexical_weights"]]
    else:
        dense, sparse = out.dense, [v.to_dict() for v in out.sparse]
    np.save(f"{stem}.dense.npy", dense)
    Path(f"{stem}.sparse.json").write_text(json.dumps(sparse))


def worker(args: argparse.Namespace) -> None:
    """One path, one round: for each max length load, warm up, time one call over all passages."""
    import torch

    torch.set_num_threads(args.threads)
    passages = load_passages(args.passages)
    seconds, load_s = {}, {}
    for max_length in args.max_lengths:
        start = time.perf_counter()
        encode = make_encoder(args.worker, Path(args.ckpt), args.threads, args.batch_size, max_length)
        load_s[max_length] = time.perf_counter() - start
        encode(passages[: args.batch_size])  # warm-up, untimed
        start = time.perf_counter()
        out = encode(passages)
        seconds[max_length] = time.perf_counter() - start
        if args.save_outputs:
            save_outputs(out, Path(args.workdir) / f"{args.worker}.{max_length}")
        del encode, out
        gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "load_s": load_s, "peak_rss_mb": peak}))


def run_sub(args: argparse.Namespace, extra: list[str]) -> dict:
    cmd = [
        sys.executable,
        __file__,
        *extra,
        "--workdir",
        args.workdir,
        "--ckpt",
        args.ckpt,
        "--passages",
        str(args.passages),
        "--threads",
        str(args.threads),
        "--batch-size",
        str(args.batch_size),
        "--max-lengths",
        ",".join(map(str, args.max_lengths)),
    ]
    threads = str(args.threads)
    env = dict(
        os.environ,
        PYTHONWARNINGS="ignore",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{extra} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def drift(workdir: Path, a: str, b: str, k: int = 10) -> tuple[float, float, float]:
    import numpy as np

    da, db = np.load(f"{workdir / a}.dense.npy"), np.load(f"{workdir / b}.dense.npy")
    cosine = (da * db).sum(1) / (np.linalg.norm(da, axis=1) * np.linalg.norm(db, axis=1))
    sa, sb = (json.loads(Path(f"{workdir / x}.sparse.json").read_text()) for x in (a, b))
    overlaps = []
    for x, y in zip(sa, sb, strict=True):
        top_x, top_y = (set(sorted(d, key=d.get, reverse=True)[:k]) for d in (x, y))
        overlaps.append(len(top_x & top_y) / max(len(top_y), 1))
    return float(np.median(cosine)), float(cosine.min()), float(np.mean(overlaps))


class LoadWatch:
    """Samples ``os.getloadavg()``; remembers the highest 1-min value."""

    def __init__(self) -> None:
        self.peak = 0.0

    def sample(self, label: str, show: bool = True) -> None:
        load = os.getloadavg()
        self.peak = max(self.peak, load[0])
        if show:
            print(f"load average {label}: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)


def ratios(seconds: dict[str, list[float]], path: str, base: str) -> str:
    """Median (min–max) over rounds of the per-round speed-up of ``path`` vs ``base``."""
    if base not in seconds:
        return "-"
    return median_range([b / p for b, p in zip(seconds[base], seconds[path], strict=True)], "{:.2f}x")


def median_tokens(ckpt: Path, passages: list[str], max_lengths: Sequence[int]) -> dict[int, list[int]]:
    """Per max length, the unpadded token count of every passage (what one text per run computes)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ckpt))
    return {
        m: [len(ids) for ids in tokenizer(passages, truncation=True, max_length=m)["input_ids"]] for m in max_lengths
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/vecbridge_bench_bgem3")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--max-lengths", type=lambda s: [int(x) for x in s.split(",")], default=[128, 512])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS), help=f"comma-separated, from {PATHS}")
    parser.add_argument("--results", default="bench_bgem3_cpu", help="name of the JSON under benchmarks/results")
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--gemm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gemm-tokens", default="", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-onnx", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--save-outputs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.gemm:
        tokens = [int(x) for x in args.gemm_tokens.split(",") if x]
        return print(json.dumps(gemm_rates(args.threads, tokens)))
    if args.prepare_onnx:
        from vecbridge.encoders.bgem3_onnx import BGEM3OnnxEncoder

        return print(
            json.dumps(
                {
                    "export_and_quantize_s": timed(
                        lambda: BGEM3OnnxEncoder(
                            args.ckpt, onnx_dir=Path(args.ckpt) / "onnx", quantize="int8", num_threads=args.threads
                        )
                    )
                }
            )
        )

    paths = args.paths.split(",")
    if unknown := set(paths) - set(PATHS):
        parser.error(f"--paths: unknown {sorted(unknown)}; choose from {PATHS}")
    print(machine_line(), flush=True)
    load = LoadWatch()
    load.sample("at start")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = stand_in_checkpoint(workdir, args.layers)
    args.ckpt = str(ckpt)
    if any(p.startswith("vecbridge-onnx") for p in paths):
        print(f"onnx export + int8 (reused when cached): {run_sub(args, ['--prepare-onnx'])}", flush=True)
    passages = load_passages(args.passages)
    lengths = median_tokens(ckpt, passages, args.max_lengths)
    # the int8 bound's M per max length: the median passage's token count (one text per run)
    bound_m = {m: int(statistics.median(lengths[m])) for m in args.max_lengths}

    gemm: dict[str, list[float]] = {}

    def measure_gemm(label: str) -> None:
        extra = ["--gemm", "--gemm-tokens", ",".join(str(n) for n in sorted(set(bound_m.values())))]
        rates = run_sub(args, extra)
        for name, rate in rates.items():
            gemm.setdefault(name, []).append(rate)
        shown = [n for n in rates if not n.startswith("int8 layer")]
        layer = {m: max(r for n, r in rates.items() if n.startswith(int8_key(t, ""))) for m, t in bound_m.items()}
        print(
            f"GEMM {label}: "
            + ", ".join(f"{n} {rates[n] / 1e9:.1f}" for n in shown)
            + "; int8 layer (best recipe) "
            + ", ".join(f"max {m}: {r / 1e9:.1f}" for m, r in layer.items())
            + " GFLOP/s",
            flush=True,
        )

    measure_gemm("before")
    seconds = {(p, m): [] for p in paths for m in args.max_lengths}
    rss = dict.fromkeys(paths, 0.0)
    wall = time.perf_counter()
    for rnd in range(args.rounds):
        for path in paths if rnd % 2 == 0 else paths[::-1]:
            result = run_sub(args, ["--worker", path] + (["--save-outputs"] if rnd == 0 else []))
            for m in args.max_lengths:
                seconds[path, m].append(result["seconds"][str(m)])
            rss[path] = max(rss[path], result["peak_rss_mb"])
            print(
                f"round {rnd + 1} {path}: " + ", ".join(f"max {m}: {s:.1f} s" for m, s in result["seconds"].items()),
                flush=True,
            )
            load.sample("", show=False)
        label = "after the last round" if rnd == args.rounds - 1 else f"after round {rnd + 1}"
        measure_gemm(label)
        load.sample(label)
    wall = time.perf_counter() - wall

    best = {name: max(gemm[name]) for name in FP32_LIBRARIES}
    ceiling = max(best.values())
    int8_square = max(gemm[INT8_GEMM])
    int8_best: dict[int, tuple[float, str]] = {}  # per max length: best int8 layer rate over the run, recipe
    for m, t in bound_m.items():
        rate, variant = max((max(gemm[int8_key(t, v)]), v) for v in INT8_VARIANTS)
        int8_best[m] = (rate, variant)
    under_load = load.peak > LOAD_LIMIT
    print(
        f"\nBGE-M3-shaped random model: {args.layers} layers x hidden {HIDDEN}, vocab {VOCAB}; "
        f"{len(passages)} SciFact passages per timed call{' (BELOW 512: smoke run)' if len(passages) < 512 else ''}; "
        f"batch {args.batch_size}; {args.threads} threads; {args.rounds} interleaved rounds ({wall / 60:.1f} min)"
    )
    print(machine_line())
    print(
        "fp32 GEMM 2048^3, best per library over the run: "
        + ", ".join(f"{n} {r / 1e9:.1f}" for n, r in best.items())
        + f" GFLOP/s; ceiling {ceiling / 1e9:.1f}"
    )
    print(
        f"int8 GEMM 2048^3 (onnxruntime, vecbridge's int8 recipe), best over the run: {int8_square / 1e9:.1f} GFLOP/s "
        f"= {int8_square / ceiling:.2f}x the fp32 ceiling"
    )
    for m, (rate, variant) in int8_best.items():
        recipe = max(gemm[int8_key(bound_m[m], next(iter(INT8_VARIANTS)))])
        print(
            f"int8 GEMM rate, max length {m} (one BGE-M3 layer's GEMMs at M={bound_m[m]} tokens, the median "
            f"passage), best over the run: {rate / 1e9:.1f} GFLOP/s ({variant}; vecbridge's recipe "
            f"{recipe / 1e9:.1f}) = {rate / ceiling:.2f}x the fp32 ceiling"
        )
    load.sample("(1/5/15 min) at the end")
    print(f"highest 1-min load average sampled (start, after each path, after each round, end): {load.peak:.2f}")
    if under_load:
        print("TAKEN UNDER LOAD")
    print(
        "\n| max len | path | docs/s median (min–max) | vs FlagEmbedding | vs vecbridge-torch "
        "| model GFLOP/s | % of its bound | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    table = []
    for m in args.max_lengths:
        flops = model_flops(lengths[m], args.layers)
        per_path = {p: seconds[p, m] for p in paths}
        int8_rate = int8_best[m][0]
        for p in paths:
            median_s = statistics.median(per_path[p])
            is_int8 = p.endswith("int8")
            bound, bound_name = (int8_rate, "int8 GEMM rate") if is_int8 else (ceiling, "fp32 ceiling")
            share = flops / median_s / bound
            print(
                f"| {m} (median {statistics.median(lengths[m]):.0f} tok) | {p} "
                f"| {median_range([len(passages) / s for s in per_path[p]], '{:.2f}')} "
                f"| {ratios(per_path, p, 'flagembedding')} | {ratios(per_path, p, 'vecbridge-torch')} "
                f"| {flops / median_s / 1e9:.1f} | {100 * share:.0f}% of the {bound_name} | {rss[p]:.0f} |"
            )
            table.append(
                {
                    "max_length": m,
                    "median_tokens": statistics.median(lengths[m]),
                    "path": p,
                    "docs_per_s": [len(passages) / s for s in per_path[p]],
                    "model_gflops_median": flops / median_s / 1e9,
                    "bound": bound_name,
                    "share_of_bound": share,
                    "goal": INT8_GOAL if is_int8 else FP32_GOAL,
                    "peak_rss_mb": rss[p],
                }
            )
        if "flagembedding" in paths:  # what int8 would need for 4x FlagEmbedding, against int8's GEMM rate
            needed = 4 * flops / statistics.median(per_path["flagembedding"])
            print(
                f"| {m} | 4x FlagEmbedding would need | | | | {needed / 1e9:.1f} "
                f"| {100 * needed / int8_rate:.0f}% of the int8 GEMM rate | |"
            )
    reference = "vecbridge-torch" if "vecbridge-torch" in paths else "vecbridge-onnx-fp32"
    drifts = []
    for m in args.max_lengths:
        for other in paths:
            if other != reference and reference in paths:
                med, low, overlap = drift(workdir, f"{reference}.{m}", f"{other}.{m}")
                drifts.append(
                    {
                        "max_length": m,
                        "path": other,
                        "vs": reference,
                        "cosine_median": med,
                        "cosine_min": low,
                        "sparse_top10_overlap": overlap,
                    }
                )
                print(
                    f"drift {other} vs {reference} (max {m}): dense cosine median {med:.5f} min {low:.5f}; "
                    f"sparse top-10 id overlap {overlap:.3f}"
                )
    for row in (r for r in table if r["path"].startswith("vecbridge")):
        met = "met" if row["share_of_bound"] >= row["goal"] else "NOT met"
        print(
            f"goal {row['path']} max {row['max_length']}: >= {row['goal']:.0%} of the {row['bound']}: "
            f"{row['share_of_bound']:.0%}, {met}{' (under load)' if under_load else ''}"
        )
    results = {
        "layers": args.layers,
        "passages": len(passages),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "under_load": under_load,
        "peak_load_1min": load.peak,
        "wall_min": wall / 60,
        "fp32_gemm_2048_gflops": {n: r / 1e9 for n, r in best.items()},
        "fp32_ceiling_gflops": ceiling / 1e9,
        "int8_gemm_2048_recipe_gflops": int8_square / 1e9,
        "int8_layer_gemm_gflops": {
            str(m): {
                "tokens": bound_m[m],
                "best": rate / 1e9,
                "best_recipe": variant,
                "per_recipe": {v: max(gemm[int8_key(bound_m[m], v)]) / 1e9 for v in INT8_VARIANTS},
            }
            for m, (rate, variant) in int8_best.items()
        },
        "paths": table,
        "drift": drifts,
    }
    print(f"results: {write_results(args.results, results, args.rounds)}")


if __name__ == "__main__":
    main()
