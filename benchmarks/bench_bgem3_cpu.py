"""CPU benchmark: BGE-M3 encoding (dense + sparse + ColBERT) — FlagEmbedding vs vecbridge torch / ONNX.

The model is BGE-M3-shaped with random weights (hidden 1024, 16 heads, intermediate 4096, vocab 250,002,
**reduced depth**: ``--layers``, default 4 of 24) and a small tokenizer trained on the fly (the ids it
produces cover only a few thousand of the 250,002 rows; speed does not depend on which rows are read).
Passages are SciFact documents (``../shared/data/scifact/corpus.jsonl``), queries SciFact queries.
Each path runs in its own subprocess (clean peak RSS); throughput is the median of ``--repeats`` timed
passes after one warm-up pass on a few passages. FLOP/s counts useful (unpadded) model FLOPs and is
compared to a large fp32 ``torch.matmul`` measured in the same run.

    /work/venv/bin/python benchmarks/bench_bgem3_cpu.py            # ~12 min on 2 shared cores (--passages 24 for ~6)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "../shared/data/scifact"
PATHS = ["flagembedding", "vecbridge-torch", "vecbridge-torch-bf16", "vecbridge-onnx-fp32", "vecbridge-onnx-int8"]
HIDDEN, HEADS, INTERMEDIATE, VOCAB = 1024, 16, 4096, 250_002


def load_texts(n_passages: int, n_queries: int) -> tuple[list[str], list[str]]:
    passages, queries = [], []
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            passages.append(f"{record['title']} {record['text']}".strip())
            if len(passages) >= n_passages:
                break
    with (DATA / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            queries.append(json.loads(line)["text"])
            if len(queries) >= n_queries:
                break
    return passages, queries


def build_checkpoint(folder: Path, layers: int) -> None:
    if (folder / "colbert_linear.pt").is_file():
        return
    from benchmarks.checkpoints import build_bgem3_checkpoint

    build_bgem3_checkpoint(folder, hidden=HIDDEN, layers=layers, heads=HEADS, intermediate=INTERMEDIATE,
                           vocab_size=VOCAB, max_positions=8192, tokenizer_vocab=8000)


def model_flops(lengths: list[int], layers: int) -> float:
    """Forward FLOPs over unpadded tokens: QKV/out/FFN GEMMs + attention scores/values + ColBERT head."""
    total = 0.0
    for n in lengths:
        gemm = 2 * n * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)
        attention = 2 * 2 * n * n * HIDDEN
        total += layers * (gemm + attention) + 2 * n * HIDDEN * HIDDEN
    return total


def gemm_peak(threads: int, size: int = 2048, repeats: int = 9) -> float:
    """Best-of-``repeats`` fp32 GEMM rate (the cores are shared, so the best run is the machine's peak)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times)


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_encoder(path: str, ckpt: Path, threads: int, batch_size: int, q_max: int, p_max: int):
    common = dict(batch_size=batch_size, query_max_length=q_max, passage_max_length=p_max)
    if path == "flagembedding":
        from FlagEmbedding import BGEM3FlagModel

        model = BGEM3FlagModel(str(ckpt), use_fp16=False, devices="cpu", **common)

        def encode(texts: list[str], queries: bool) -> dict:
            method = model.encode_queries if queries else model.encode_corpus
            return method(texts, return_dense=True, return_sparse=True, return_colbert_vecs=True)

        return encode
    from encoders.bgem3 import load_bgem3

    if path.startswith("vecbridge-torch"):
        encoder = load_bgem3(str(ckpt), device="cpu", precision="bf16" if path.endswith("bf16") else "fp32", **common)
    else:
        encoder = load_bgem3(str(ckpt), backend="onnx", onnx_dir=ckpt / "onnx", num_threads=threads,
                             quantize="int8" if path.endswith("int8") else None, **common)

    def encode(texts: list[str], queries: bool):
        return encoder.encode_queries(texts) if queries else encoder.encode_documents(texts)

    return encode


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    ckpt = Path(args.workdir) / "checkpoint"
    passages, queries = load_texts(args.passages, args.queries)
    start = time.perf_counter()
    encode = make_encoder(args.worker, ckpt, args.threads, args.batch_size, args.query_max_length,
                          args.passage_max_length)
    load_s = time.perf_counter() - start
    encode(passages[: args.batch_size], False)  # warm-up
    doc_times, query_times, out = [], [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = encode(passages, False)
        doc_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        encode(queries, True)
        query_times.append(time.perf_counter() - start)
    if args.worker == "flagembedding":
        dense, sparse = out["dense_vecs"], [{int(k): float(v) for k, v in d.items()} for d in out["lexical_weights"]]
    else:
        dense, sparse = out.dense, [v.to_dict() for v in out.sparse]
    np.save(Path(args.workdir) / f"{args.worker}.dense.npy", dense)
    (Path(args.workdir) / f"{args.worker}.sparse.json").write_text(json.dumps(sparse))
    print(json.dumps({
        "path": args.worker, "load_s": load_s, "doc_s": statistics.median(doc_times),
        "query_s": statistics.median(query_times), "doc_times": doc_times,
        "rss_after_mb": current_rss_mb(), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def prepare_onnx(args: argparse.Namespace) -> None:
    from encoders.bgem3_onnx import BGEM3OnnxEncoder

    ckpt = Path(args.workdir) / "checkpoint"
    start = time.perf_counter()
    BGEM3OnnxEncoder(str(ckpt), onnx_dir=ckpt / "onnx", quantize="int8", num_threads=args.threads)
    print(json.dumps({"export_and_quantize_s": time.perf_counter() - start}))


def run_sub(args: argparse.Namespace, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, *extra, "--workdir", args.workdir, "--layers", str(args.layers),
           "--passages", str(args.passages), "--queries", str(args.queries), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--batch-size", str(args.batch_size),
           "--query-max-length", str(args.query_max_length), "--passage-max-length", str(args.passage_max_length)]
    env = dict(os.environ, PYTHONWARNINGS="ignore", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{extra} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def drift(workdir: Path, a: str, b: str, k: int = 10) -> tuple[float, float, float]:
    import numpy as np

    da, db = np.load(workdir / f"{a}.dense.npy"), np.load(workdir / f"{b}.dense.npy")
    cosine = (da * db).sum(1) / (np.linalg.norm(da, axis=1) * np.linalg.norm(db, axis=1))
    sa = json.loads((workdir / f"{a}.sparse.json").read_text())
    sb = json.loads((workdir / f"{b}.sparse.json").read_text())
    overlaps = []
    for x, y in zip(sa, sb):
        top_x = set(sorted(x, key=x.get, reverse=True)[:k])
        top_y = set(sorted(y, key=y.get, reverse=True)[:k])
        overlaps.append(len(top_x & top_y) / max(len(top_y), 1))
    return float(np.median(cosine)), float(cosine.min()), float(np.mean(overlaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/vecbridge_bench_bgem3")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--passages", type=int, default=48)
    parser.add_argument("--queries", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--query-max-length", type=int, default=64)
    parser.add_argument("--passage-max-length", type=int, default=512)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--worker", choices=PATHS)
    parser.add_argument("--prepare-onnx", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.prepare_onnx:
        return prepare_onnx(args)

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    build_checkpoint(workdir / "checkpoint", args.layers)
    print(f"checkpoint ready in {time.perf_counter() - start:.0f} s", flush=True)
    paths = args.paths.split(",")
    if any(p.startswith("vecbridge-onnx") for p in paths):
        print(f"onnx export+int8: {run_sub(args, ['--prepare-onnx'])}", flush=True)
    peak_before = gemm_peak(args.threads)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(workdir / "checkpoint"))
    passages, queries = load_texts(args.passages, args.queries)
    doc_lengths = [len(x) for x in tokenizer(passages, truncation=True, max_length=args.passage_max_length)["input_ids"]]
    flops = model_flops(doc_lengths, args.layers)
    results = {}
    for path in paths:
        results[path] = run_sub(args, ["--worker", path])
        print(json.dumps(results[path]), flush=True)
    peak = max(peak_before, gemm_peak(args.threads))
    base = results.get("flagembedding")
    print(f"\nBGE-M3-shaped random model: {args.layers} layers x hidden {HIDDEN}, vocab {VOCAB}; "
          f"{len(passages)} SciFact passages (max {args.passage_max_length} tok; "
          f"min/median/max {min(doc_lengths)}/{statistics.median(doc_lengths):.0f}/{max(doc_lengths)}),"
          f" {len(queries)} queries (max {args.query_max_length}); batch {args.batch_size}; {args.threads} threads; "
          f"median of {args.repeats}")
    print(f"fp32 GEMM peak (best torch.matmul 2048^3, before and after): {peak / 1e9:.1f} GFLOP/s "
          f"(before {peak_before / 1e9:.1f})\n")
    print("| path | docs/s | queries/s | speed-up vs FlagEmbedding | model GFLOP/s | % of GEMM peak | peak RSS MB | RSS after MB | load s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path, r in results.items():
        docs_per_s = len(passages) / r["doc_s"]
        speedup = f"{base['doc_s'] / r['doc_s']:.2f}x" if base else "-"
        gflops = flops / r["doc_s"] / 1e9
        print(f"| {path} | {docs_per_s:.2f} | {len(queries) / r['query_s']:.1f} | {speedup} | {gflops:.1f} | "
              f"{100 * flops / r['doc_s'] / peak:.0f}% | {r['peak_rss_mb']:.0f} | {r['rss_after_mb']:.0f} | {r['load_s']:.1f} |")
    for other in ("vecbridge-onnx-int8", "vecbridge-torch-bf16", "vecbridge-onnx-fp32", "flagembedding"):
        if other in results and "vecbridge-torch" in results and other != "vecbridge-torch":
            med, low, overlap = drift(workdir, "vecbridge-torch", other)
            print(f"drift {other} vs vecbridge-torch fp32: dense cosine median {med:.5f} min {low:.5f}; "
                  f"sparse top-10 id overlap {overlap:.3f}")


if __name__ == "__main__":
    main()
