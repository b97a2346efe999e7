"""End-to-end ingestion: vecbridge's pipelined ``ingest`` vs the loop a user would write by hand.

Corpus: BEIR SciFact (5,183 documents; ``--limit`` for a smoke run). Both sides use all-MiniLM-L6-v2
(dense) + the same fitted ``BM25Encoder`` (sparse) into a fresh embedded Milvus Lite file, 256
documents per write:

- ``vecbridge``: ``vecbridge.ingest.ingest(index, corpus.jsonl)`` (read, encode batch n+1 while a
  writer thread writes batch n, checkpoint each batch);
- ``handwritten``: read the JSONL, then per batch ``SentenceTransformer.encode`` + ``BM25Encoder``
  + ``MilvusClient.insert``, one after the other;
- ``fastembed-fp32`` / ``fastembed-int8``: the same loop with fastembed's ``TextEmbedding.embed`` (its
  default batch size 256, max length 256 as vecbridge) instead of sentence-transformers: on an fp32
  graph (fastembed's kind of default for this model) and on vecbridge's own int8 graph given to
  fastembed as ``model.onnx`` (the fair anchor: same graph as ``vecbridge-int8``). See
  ``benchmarks/fastembed_anchor.py``; SciFact nDCG@10 of both int8 sides: ``eval_onnx_int8.py``.

Each run is a fresh process (model load and BM25 fit untimed, identical on both sides); rounds
alternate the order (ABBA). Reported: medians of docs/s over the timed ingest, ratio to the anchors,
peak RSS of the process. Then the time to resume: ``vecbridge ingest`` is SIGKILLed after its first
checkpoint and rerun with ``--resume``. ``machine_line()`` (CPU, ISA, load) is printed beside the
tables; results go to ``benchmarks/results/bench_ingest[-oversubscribed].json``.

``--background N`` runs N CPU-bound busy loops (separate processes) during every timed ingest: the
oversubscribed case (N=4 on 2 cores: load >= 4), labelled as such in the table and the JSON.

    PYTHONPATH=. python benchmarks/bench_ingest.py --rounds 3             # full SciFact
    PYTHONPATH=. python benchmarks/bench_ingest.py --rounds 1 --limit 300  # smoke run
    PYTHONPATH=. python benchmarks/bench_ingest.py --limit 2000 --rounds 3 --no-resume \
        --modes handwritten,fastembed-fp32,fastembed-int8 --variants vecbridge-int8
    PYTHONPATH=. python benchmarks/bench_ingest.py --limit 1000 --rounds 3 --no-resume --background 4 \
        --modes fastembed-int8 --variants vecbridge-int8                  # oversubscribed
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import machine_line, write_results  # noqa: E402  (after the path insert)

CORPUS = ROOT / ".." / "shared" / "data" / "scifact" / "corpus.jsonl"
BATCH = 256
ANCHORS = ("handwritten", "fastembed-fp32", "fastembed-int8")


def _texts(path: Path) -> list[str]:
    from vecbridge.ingest import read_jsonl

    return [d.text for d in read_jsonl(path)]


def _bm25(path: Path):
    from vecbridge.encoders.bm25 import BM25Encoder

    return BM25Encoder().fit(_texts(path))


# vecbridge variants: the encoder backend of the dense model (the pipeline is the same).
VARIANTS = {
    "vecbridge-torch": {"backend": "torch"},  # same torch graph as the hand-written loop: the pipeline alone
    "vecbridge-fp32": {"backend": "onnx"},  # VECBRIDGE_ONNX_QUANTIZE=none (fp32, 1e-4 of torch)
    "vecbridge-int8": {"backend": "onnx", "quantize": "int8"},  # the CPU default of Settings/open_index
}


def run_vecbridge(corpus: Path, db: Path, variant: str = "vecbridge-torch") -> float:
    from vecbridge import HybridIndex
    from vecbridge.connectors.milvus import MilvusConnector
    from vecbridge.encoders import load_encoder
    from vecbridge.ingest import ingest

    dense = load_encoder("all-MiniLM-L6-v2", **VARIANTS[variant])
    index = HybridIndex.create(
        MilvusConnector(uri=str(db)), "bench", dense=dense, sparse=_bm25(corpus), batch_size=BATCH
    )
    dense.encode_documents(["warm-up", "warm-up two"])  # session set-up (every lane) is load time, as for the anchors
    start = time.perf_counter()
    report = ingest(index, corpus, checkpoint=db.with_suffix(".ckpt.json"))
    seconds = time.perf_counter() - start
    assert report.written == index.count() == report.read, report.summary()
    index.connector.close()
    return seconds


def _embedder(mode: str, workdir: Path):
    """``texts -> float32 vectors`` of an anchor: sentence-transformers, or fastembed on a graph."""
    if mode == "handwritten":
        from sentence_transformers import SentenceTransformer

        from vecbridge.encoders.loading import bundled_model_path

        model = SentenceTransformer(str(bundled_model_path("all-MiniLM-L6-v2")), device="cpu")
        return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True)
    from benchmarks.fastembed_anchor import embed, load_fastembed

    fastembed = load_fastembed(mode.removeprefix("fastembed-"), workdir)
    return lambda texts: embed(fastembed, texts)


def run_handwritten(corpus: Path, db: Path, mode: str = "handwritten") -> float:
    """The loop a user writes: per batch, dense vectors (``mode``'s embedder), BM25, ``MilvusClient.insert``."""
    from pymilvus import DataType, MilvusClient

    encode = _embedder(mode, db.parent)
    bm25 = _bm25(corpus)
    client = MilvusClient(str(db))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=384)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    params = client.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="IP")
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("bench", schema=schema, index_params=params)
    encode(["warm-up"])  # the first call's session set-up is load time on both sides
    start = time.perf_counter()
    with corpus.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        texts = ["\n".join(p for p in (r.get("title"), r["text"]) if p) for r in chunk]
        dense = encode(texts)
        sparse = bm25.encode_documents(texts).sparse
        client.insert(
            "bench",
            [
                {
                    "id": r["_id"],
                    "text": t,
                    "dense": d,
                    "sparse": dict(zip(s.indices.tolist(), s.values.tolist(), strict=True)),
                }
                for r, t, d, s in zip(chunk, texts, dense, sparse, strict=True)
            ],
        )
    seconds = time.perf_counter() - start
    assert client.get_collection_stats("bench")["row_count"] == len(rows)
    client.close()
    return seconds


def worker(mode: str, corpus: Path, db: Path) -> None:
    seconds = run_handwritten(corpus, db, mode) if mode in ANCHORS else run_vecbridge(corpus, db, mode)
    docs = sum(1 for line in corpus.open(encoding="utf-8") if line.strip())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"docs_per_s": docs / seconds, "seconds": seconds, "peak_rss_mb": rss_mb}))


def _spawn(mode: str, corpus: Path, workdir: Path, rep: int) -> dict[str, float]:
    db = workdir / f"{mode}-{rep}.db"
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, "--corpus", str(corpus), "--db", str(db)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def resume_time(corpus: Path, workdir: Path) -> dict[str, float]:
    """Kill ``vecbridge ingest`` after its first checkpoint; time the ``--resume`` run."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VECBRIDGE_URI": str(workdir / "resume.db"),
        "VECBRIDGE_STATE_DIR": str(workdir / "state"),
        "VECBRIDGE_COLLECTION": "resume",
        "VECBRIDGE_DENSE_MODEL": "all-MiniLM-L6-v2",
        "VECBRIDGE_SPARSE_MODEL": "bm25",
        "VECBRIDGE_INGEST_BATCH_SIZE": str(BATCH),
    }
    cmd = [sys.executable, "-m", "vecbridge", "ingest", str(corpus), "--no-progress"]
    checkpoint = workdir / f"{corpus.name}.resume.checkpoint.json"
    first = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not checkpoint.exists() and first.poll() is None:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    acknowledged = json.loads(checkpoint.read_text())["line"]
    start = time.perf_counter()
    second = subprocess.run(cmd + ["--resume"], cwd=workdir, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if second.returncode != 0:
        raise SystemExit(f"resume failed:\n{second.stdout}\n{second.stderr[-3000:]}")
    return {"acknowledged_at_kill": acknowledged, "resume_wall_s": seconds}


def _burn() -> None:  # pragma: no cover - a background CPU hog
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class Background:
    """``n`` CPU-bound processes running while the ``with`` block runs (the oversubscribed case)."""

    def __init__(self, n: int) -> None:
        self.n, self.procs = n, []

    def __enter__(self) -> Background:
        ctx = multiprocessing.get_context("spawn")
        self.procs = [ctx.Process(target=_burn, daemon=True) for _ in range(self.n)]
        for proc in self.procs:
            proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="First N documents only (smoke runs).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--modes",
        default=",".join(ANCHORS),
        help=f"hand-written anchors to run, among {list(ANCHORS)}; the first is the ratio's base.",
    )
    parser.add_argument(
        "--variants",
        default="vecbridge-torch,vecbridge-fp32,vecbridge-int8",
        help=f"vecbridge variants to run, among {sorted(VARIANTS)}.",
    )
    parser.add_argument(
        "--background", type=int, default=0, help="CPU-bound busy loops run meanwhile (oversubscribed)."
    )
    parser.add_argument("--no-resume", action="store_true", help="Skip the resume-after-kill timing.")
    parser.add_argument("--worker", choices=[*VARIANTS, *ANCHORS], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.corpus, args.db)
        return
    anchors = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(anchors) - set(ANCHORS))
    if unknown or not anchors:
        raise SystemExit(f"--modes: choose among {list(ANCHORS)}, got {args.modes!r}")
    label = (
        f"OVERSUBSCRIBED: {args.background} CPU-bound processes running meanwhile"
        if args.background
        else "no background processes added"
    )
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        with args.corpus.open(encoding="utf-8") as src, corpus.open("w", encoding="utf-8") as dst:
            for n, line in enumerate(src):
                if args.limit is not None and n >= args.limit:
                    break
                dst.write(line)
        docs = sum(1 for _ in corpus.open(encoding="utf-8"))
        modes = [*anchors, *[v.strip() for v in args.variants.split(",") if v.strip()]]
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        loads: list[float] = []
        for rep in range(args.rounds):  # the order alternates each round (ABBA)
            for mode in modes if rep % 2 == 0 else modes[::-1]:
                with Background(args.background):
                    runs[mode].append(_spawn(mode, corpus, workdir, rep))
                    loads.append(os.getloadavg()[0])
                print(f"round {rep + 1} {mode}: {runs[mode][-1]}  load {loads[-1]:.2f}", flush=True)
        med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}
        print(
            f"\n{docs} documents, {args.rounds} rounds (ABBA), {label}; load at the end of each run "
            f"{min(loads):.2f}-{max(loads):.2f}"
        )
        print(machine_line())
        columns = " | ".join(f"vs {a}" for a in anchors)
        print(f"| pipeline | docs/s (median) | range | {columns} | peak RSS MB (median) |")
        print("|---|---:|---:|" + "---:|" * len(anchors) + "---:|")
        results: dict[str, object] = {"documents": docs, "case": label, "run_loads": loads, "pipelines": {}}
        for mode in modes:
            rates = [r["docs_per_s"] for r in runs[mode]]
            # per-round ratios (the runs of a round are adjacent), their median
            ratios = {
                a: statistics.median(x / y["docs_per_s"] for x, y in zip(rates, runs[a], strict=True)) for a in anchors
            }
            print(
                f"| {mode} | {med[mode]['docs_per_s']:.1f} | {min(rates):.1f}-{max(rates):.1f} | "
                + " | ".join(f"{ratios[a]:.2f}x" for a in anchors)
                + f" | {med[mode]['peak_rss_mb']:.0f} |"
            )
            results["pipelines"][mode] = {  # type: ignore[index]
                "docs_per_s": rates,
                "median_docs_per_s": med[mode]["docs_per_s"],
                "ratio_vs": ratios,
                "peak_rss_mb": med[mode]["peak_rss_mb"],
            }
        name = "bench_ingest-oversubscribed" if args.background else "bench_ingest"
        print(f"results: {write_results(name, results, args.rounds)}")
        if args.no_resume or args.background:
            return
        resumed = resume_time(corpus, workdir)
        print(
            f"\nresume after SIGKILL at the first checkpoint (line {resumed['acknowledged_at_kill']}): "
            f"{resumed['resume_wall_s']:.1f} s wall for the --resume process (model load included)"
        )
        print(machine_line())


if __name__ == "__main__":
    main()
