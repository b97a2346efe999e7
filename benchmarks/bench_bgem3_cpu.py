"""CPU benchmark: BGE-M3 encoding (dense + sparse + ColBERT) — FlagEmbedding vs vecbridge torch / ONNX.

Model: BGE-M3-shaped XLM-RoBERTa with random weights — full width and vocab (hidden 1024, 16 heads,
intermediate 4096, vocab 250,002) but ``--layers`` (default 2) of 24 — with FlagEmbedding's sparse/ColBERT
heads and a small XLM-R tokenizer trained on the fly (speed does not depend on which vocab rows are read).
Input: the first ``--passages`` (default 512) SciFact passages, encoded by ONE timed call per path and max
length (``--max-lengths``, default 128 and 512), batch 16, ``--threads`` threads, every output returned.

Paths run interleaved in ``--rounds`` (default 3): each round runs every path once, in its own subprocess
(load and one small warm-up call untimed), the order reversed every other round. Reported per path and max
length: median docs/s (min–max over rounds), the median over rounds of the per-round speed-up vs
FlagEmbedding and vs vecbridge's torch path, and % of the fp32 GEMM ceiling: useful model FLOPs (unpadded
tokens) / time / the best 2048^3 fp32 GEMM rate of torch.matmul, onnxruntime (one MatMul node) and
np.matmul measured before, between and after the rounds with the same thread count. The load average is
printed at each round boundary; "TAKEN UNDER LOAD" if the 1-min value ever exceeded 2.5. Drift of every
path vs vecbridge torch fp32 (dense cosine, sparse top-10 ids) is measured on the first round's outputs.

    python benchmarks/bench_bgem3_cpu.py     # repo root, project venv, quiet machine; ~30 min on 2 cores (estimate)
    python benchmarks/bench_bgem3_cpu.py --passages 16 --rounds 1 --max-lengths 64 --layers 1   # smoke, ~5 min
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.timing import median_range, timed  # noqa: E402
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


def gemm_rates(threads: int) -> dict[str, float]:
    """Best-of-GEMM_REPEATS fp32 GEMM FLOP/s per library (torch, onnxruntime, numpy), ``threads`` threads,
    and (key ``INT8_GEMM``) onnxruntime's rate for the same MatMul after vecbridge's int8 recipe."""
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
    return rates


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
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--gemm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-onnx", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--save-outputs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.gemm:
        return print(json.dumps(gemm_rates(args.threads)))
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
    load = LoadWatch()
    load.sample("at start")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = stand_in_checkpoint(workdir, args.layers)
    args.ckpt = str(ckpt)
    if any(p.startswith("vecbridge-onnx") for p in paths):
        print(f"onnx export + int8 (reused when cached): {run_sub(args, ['--prepare-onnx'])}", flush=True)

    gemm: dict[str, list[float]] = {}

    def measure_gemm(label: str) -> None:
        rates = run_sub(args, ["--gemm"])
        for name, rate in rates.items():
            gemm.setdefault(name, []).append(rate)
        print(f"GEMM {label}: " + ", ".join(f"{n} {r / 1e9:.1f}" for n, r in rates.items()) + " GFLOP/s", flush=True)

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

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ckpt))
    passages = load_passages(args.passages)
    best = {name: max(rates) for name, rates in gemm.items() if name != INT8_GEMM}
    ceiling = max(best.values())
    int8_rate = max(gemm.get(INT8_GEMM, [float("nan")]))
    print(
        f"\nBGE-M3-shaped random model: {args.layers} layers x hidden {HIDDEN}, vocab {VOCAB}; "
        f"{len(passages)} SciFact passages per timed call{' (BELOW 512: smoke run)' if len(passages) < 512 else ''}; "
        f"batch {args.batch_size}; {args.threads} threads; {args.rounds} interleaved rounds ({wall / 60:.1f} min)"
    )
    print(
        "fp32 GEMM 2048^3, best per library over the run: "
        + ", ".join(f"{n} {r / 1e9:.1f}" for n, r in best.items())
        + f" GFLOP/s; ceiling {ceiling / 1e9:.1f}"
    )
    print(
        f"int8 GEMM 2048^3 (onnxruntime, vecbridge's int8 recipe), best over the run: {int8_rate / 1e9:.1f} GFLOP/s "
        f"= {int8_rate / ceiling:.2f}x the fp32 ceiling"
    )
    load.sample("(1/5/15 min) at the end")
    print(f"highest 1-min load average sampled (start, after each path, after each round, end): {load.peak:.2f}")
    if load.peak > LOAD_LIMIT:
        print("TAKEN UNDER LOAD")
    print(
        "\n| max len | path | docs/s median (min–max) | vs FlagEmbedding | vs vecbridge-torch "
        "| model GFLOP/s | % of GEMM ceiling | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m in args.max_lengths:
        lengths = [len(ids) for ids in tokenizer(passages, truncation=True, max_length=m)["input_ids"]]
        flops = model_flops(lengths, args.layers)
        per_path = {p: seconds[p, m] for p in paths}
        for p in paths:
            median_s = statistics.median(per_path[p])
            print(
                f"| {m} (median {statistics.median(lengths):.0f} tok) | {p} "
                f"| {median_range([len(passages) / s for s in per_path[p]], '{:.2f}')} "
                f"| {ratios(per_path, p, 'flagembedding')} | {ratios(per_path, p, 'vecbridge-torch')} "
                f"| {flops / median_s / 1e9:.1f} | {100 * flops / median_s / ceiling:.0f}% | {rss[p]:.0f} |"
            )
        if "flagembedding" in paths:  # what int8 would need for 4x FlagEmbedding, against int8's GEMM rate
            needed = 4 * flops / statistics.median(per_path["flagembedding"])
            print(
                f"| {m} | 4x FlagEmbedding would need | | | | {needed / 1e9:.1f} "
                f"| {100 * needed / int8_rate:.0f}% of the int8 GEMM rate | |"
            )
    reference = "vecbridge-torch" if "vecbridge-torch" in paths else "vecbridge-onnx-fp32"
    for m in args.max_lengths:
        for other in paths:
            if other != reference and reference in paths:
                med, low, overlap = drift(workdir, f"{reference}.{m}", f"{other}.{m}")
                print(
                    f"drift {other} vs {reference} (max {m}): dense cosine median {med:.5f} min {low:.5f}; "
                    f"sparse top-10 id overlap {overlap:.3f}"
                )


if __name__ == "__main__":
    main()
