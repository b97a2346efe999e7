"""Ray Data ingestion vs the in-process pipeline, same machine, same store: Ray's overhead made visible.

Corpus: BEIR SciFact (5,183 documents; ``--limit`` for a smoke run), all-MiniLM-L6-v2 + BM25
(``--dense none``: BM25 only), into one Milvus Lite *server* on 127.0.0.1 (the Ray engine refuses a
Lite file), a fresh collection per run:

- ``inprocess``: ``open_index`` (BM25 fit, model load) + ``vecbridge.ingest.ingest`` (reader and
  encoder on one thread, writer thread), as ``vecbridge ingest`` does;
- ``ray``: ``vecbridge.distributed.ingest_ray`` on a local Ray (``ray.init(num_cpus=CPUS)``,
  started once, its start-up time printed separately): driver-side ``open_index`` (BM25 fit), then
  ``--workers`` encoder actors (one model load each, inside the timed run), range reads, writes
  from the actors.

Both are timed end to end (model loads included: Ray pays one per actor). Rounds alternate the
order (ABBA); medians of docs/s and the ratio ray / inprocess are printed with ``os.getloadavg()``.

    PYTHONPATH=. python benchmarks/bench_ray_ingest.py --rounds 3 --workers 2          # full SciFact
    PYTHONPATH=. python benchmarks/bench_ray_ingest.py --rounds 1 --limit 200          # smoke run
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / ".." / "shared" / "data" / "scifact" / "corpus.jsonl"


def _subset(limit: int | None, folder: Path) -> tuple[Path, int]:
    path = folder / "corpus.jsonl"
    with CORPUS.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        lines = list(itertools.islice(src, limit))
        out.writelines(lines)
    return path, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="first N documents of SciFact")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="num_cpus of the local Ray")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dense", default="all-MiniLM-L6-v2", help="dense model, or 'none' for BM25 only")
    args = parser.parse_args()

    import ray

    from benchmarks.timing import interleaved, machine_line, ratio, write_results
    from vecbridge.config import open_index
    from vecbridge.distributed import RayOptions, ingest_ray
    from vecbridge.ingest import FileSource, ingest
    from vecbridge.schemas import Settings
    from vecbridge.testing.milvus_server import MilvusLiteServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    corpus, n = _subset(args.limit, workdir)
    counter = itertools.count()

    def settings() -> Settings:
        return Settings(
            backend="milvus",
            uri=server.uri,
            collection=f"bench_{next(counter)}",
            device="cpu",
            dense_model=args.dense,
            sparse_model="bm25",
            ingest_batch_size=args.batch_size,
        )

    def run_inprocess(_: int) -> dict[str, float]:
        start = time.perf_counter()
        source = FileSource(corpus)
        index = open_index(settings(), corpus=lambda: (r.document.text for r in source.records() if r.document))
        try:
            report = ingest(index, source)
        finally:
            index.connector.close()
        assert report.written == n, report.summary()
        return {"docs_s": n / (time.perf_counter() - start)}

    def run_ray(_: int) -> dict[str, float]:
        start = time.perf_counter()
        report = ingest_ray(settings(), corpus, options=RayOptions(workers=args.workers, batch_size=args.batch_size))
        assert report.written == n, report.summary()
        return {"docs_s": n / (time.perf_counter() - start)}

    with MilvusLiteServer(workdir / "bench.db") as server:
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        ray_init = time.perf_counter() - start
        try:
            medians = interleaved({"inprocess": run_inprocess, "ray": run_ray}, reps=args.rounds)
        finally:
            ray.shutdown()
    print(
        f"\ncorpus: {n} SciFact documents, dense={args.dense} + bm25, batch {args.batch_size}, "
        f"{args.rounds} round(s) ABBA, ray workers={args.workers} on ray.init(num_cpus={args.cpus})"
    )
    print(f"ray.init: {ray_init:.1f} s (once, not in the runs)")
    print("| path | docs/s (median, end to end) |\n|---|---|")
    for name, row in medians.items():
        print(f"| {name} | {row['docs_s']:.1f} |")
    print(f"ratio ray / inprocess: {ratio(medians['ray']['docs_s'], medians['inprocess']['docs_s']):.2f}")
    print(machine_line())
    results = {"docs_per_s": {k: v["docs_s"] for k, v in medians.items()}, "ray_init_s": ray_init, "documents": n}
    print(f"results: {write_results('bench_ray_ingest', results, args.rounds)}")


if __name__ == "__main__":
    main()
