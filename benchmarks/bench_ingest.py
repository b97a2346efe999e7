"""End-to-end ingestion: vecbridge's pipelined ``ingest`` vs the loop a user would write by hand.

Corpus: BEIR SciFact (5,183 documents; ``--limit`` for a smoke run). Both sides use all-MiniLM-L6-v2
(dense) + the same fitted ``BM25Encoder`` (sparse) into a fresh embedded Milvus Lite file, 256
documents per write:

- ``vecbridge``: ``vecbridge.ingest.ingest(index, corpus.jsonl)`` (read, encode batch n+1 while a
  writer thread writes batch n, checkpoint each batch);
- ``handwritten``: read the JSONL, then per batch ``SentenceTransformer.encode`` + ``BM25Encoder``
  + ``MilvusClient.insert``, one after the other.

Each run is a fresh process (model load and BM25 fit untimed, identical on both sides); rounds
alternate the order (ABBA). Reported: medians of docs/s over the timed ingest, ratio, peak RSS of
the process. Then the time to resume: ``vecbridge ingest`` is SIGKILLed after its first checkpoint
and rerun with ``--resume``. ``os.getloadavg()`` is printed beside the tables.

    PYTHONPATH=. python benchmarks/bench_ingest.py --rounds 3             # full SciFact
    PYTHONPATH=. python benchmarks/bench_ingest.py --rounds 1 --limit 300  # smoke run
"""

from __future__ import annotations

import argparse
import json
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

CORPUS = ROOT / ".." / "shared" / "data" / "scifact" / "corpus.jsonl"
BATCH = 256


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
    start = time.perf_counter()
    report = ingest(index, corpus, checkpoint=db.with_suffix(".ckpt.json"))
    seconds = time.perf_counter() - start
    assert report.written == index.count() == report.read, report.summary()
    index.connector.close()
    return seconds


def run_handwritten(corpus: Path, db: Path) -> float:
    from pymilvus import DataType, MilvusClient
    from sentence_transformers import SentenceTransformer

    from vecbridge.encoders.loading import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path("all-MiniLM-L6-v2")), device="cpu")
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
    start = time.perf_counter()
    with corpus.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        texts = ["\n".join(p for p in (r.get("title"), r["text"]) if p) for r in chunk]
        dense = model.encode(texts, batch_size=32, normalize_embeddings=True)
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
    seconds = run_handwritten(corpus, db) if mode == "handwritten" else run_vecbridge(corpus, db, mode)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="First N documents only (smoke runs).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants",
        default="vecbridge-torch,vecbridge-fp32,vecbridge-int8",
        help=f"vecbridge variants to run, among {sorted(VARIANTS)}.",
    )
    parser.add_argument("--no-resume", action="store_true", help="Skip the resume-after-kill timing.")
    parser.add_argument("--worker", choices=[*VARIANTS, "handwritten"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.corpus, args.db)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        with args.corpus.open(encoding="utf-8") as src, corpus.open("w", encoding="utf-8") as dst:
            for n, line in enumerate(src):
                if args.limit is not None and n >= args.limit:
                    break
                dst.write(line)
        docs = sum(1 for _ in corpus.open(encoding="utf-8"))
        modes = ["handwritten", *[v.strip() for v in args.variants.split(",") if v.strip()]]
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        for rep in range(args.rounds):  # the order alternates each round (ABBA)
            for mode in modes if rep % 2 == 0 else modes[::-1]:
                runs[mode].append(_spawn(mode, corpus, workdir, rep))
                print(f"round {rep + 1} {mode}: {runs[mode][-1]}  load {os.getloadavg()[0]:.2f}", flush=True)
        med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}
        h = med["handwritten"]
        print(f"\n{docs} documents, {args.rounds} rounds (ABBA), load average {os.getloadavg()}")
        print("| pipeline | docs/s (median) | range | ratio vs handwritten | peak RSS MB (median) | RSS ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for mode in modes:
            rates = [r["docs_per_s"] for r in runs[mode]]
            print(
                f"| {mode} | {med[mode]['docs_per_s']:.1f} | {min(rates):.1f}-{max(rates):.1f} | "
                f"{med[mode]['docs_per_s'] / h['docs_per_s']:.3f} | {med[mode]['peak_rss_mb']:.0f} | "
                f"{med[mode]['peak_rss_mb'] / h['peak_rss_mb']:.3f} |"
            )
        if args.no_resume:
            return
        resumed = resume_time(corpus, workdir)
        print(
            f"\nresume after SIGKILL at the first checkpoint (line {resumed['acknowledged_at_kill']}): "
            f"{resumed['resume_wall_s']:.1f} s wall for the --resume process (model load included); "
            f"load average {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
