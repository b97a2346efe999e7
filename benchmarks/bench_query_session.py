"""The int8 graph's lone query: one thread (the default) vs the model's session with sleeping or spinning threads.

    PYTHONPATH=. python benchmarks/bench_query_session.py --n 2000 --queries 100 --rounds 4
    PYTHONPATH=. python benchmarks/bench_query_session.py --n 200 --queries 20 --rounds 1   # smoke

A per-text ONNX model (the int8 all-MiniLM-L6-v2 graph) runs a lone query of up to ``SHORT_TEXT`` tokens on
a one-thread lane session, a longer text on its own session (``OnnxModel``, ``TextLanes``). This benchmark
sends the queries to the model's session instead (``short=0``), with idle intra-op threads sleeping (that
session as opened) or spinning, and measures,
per variant: ``encode_queries([q])`` alone and ``index.search(q)`` (dense + BM25, Milvus Lite, the first
``--n`` SciFact documents, k=10, window 100), each from one caller and from ``--threads`` callers in a
closed loop. Per cell: p50 latency and the CPU milliseconds this process spent per query (all its threads,
the intra-op ones included; Milvus Lite's own process is not counted). Variants run once per round,
the order reversed every other round; tables give the median over rounds and the range.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_hybrid_search import read_scifact, upsert_cached  # noqa: E402
from benchmarks.timing import interleaved_rounds, machine_line, median_range, write_results  # noqa: E402
from vecbridge import HybridIndex  # noqa: E402
from vecbridge.connectors.milvus import MilvusConnector  # noqa: E402
from vecbridge.encoders import load_encoder  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402
from vecbridge.encoders.onnx_runtime import open_session  # noqa: E402


def closed_loop(call: Callable[[str], Any], queries: list[str], threads: int) -> dict[str, float]:
    """``call`` over every query from ``threads`` callers (each takes the next query); p50 ms and CPU ms/query."""
    latencies: list[float] = []
    pending = iter(queries)

    def worker() -> None:
        for query in pending:  # next() on a shared iterator: each query once
            start = time.perf_counter()
            call(query)
            latencies.append((time.perf_counter() - start) * 1000)

    for query in queries[:3]:  # warm-up
        call(query)
    cpu = time.process_time()
    if threads == 1:
        worker()
    else:
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(worker) for _ in range(threads)]:
                future.result()
    return {"p50_ms": float(np.percentile(latencies, 50)), "cpu_ms": (time.process_time() - cpu) * 1000 / len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--cache", type=Path, default=None, help="folder caching the corpus's dense vectors")
    args = parser.parse_args()

    docs, queries = read_scifact(args.data, args.n, args.queries)
    dense = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8")
    model = dense.model  # type: ignore[attr-defined]
    assert model.per_text, "the int8 graph runs each text alone"
    short, sleeping = model.each_text.short, model.each_text.session
    sessions = {  # variant: (tokens up to which a lone text runs on one thread, the model's session)
        "1 thread (default)": (short, sleeping),
        "session, default threads sleeping": (0, sleeping),
        "session, default threads spinning": (
            0,
            open_session(model.path, None, dense.num_threads, spinning=True),  # type: ignore[attr-defined]
        ),
    }
    bm25 = BM25Encoder().fit([d.text for d in docs])
    workdir = Path(tempfile.mkdtemp(prefix="bench-session-"))
    connector = MilvusConnector(str(workdir / "bench.db"))
    index = HybridIndex.create(connector, "bench", dense=dense, sparse=bm25)
    if args.cache is None:
        index.upsert(docs)
    else:
        upsert_cached(index, docs, args.cache / f"all-MiniLM-L6-v2-onnx-int8-{len(docs)}.npy")
    reference = [index.search(q, 10, window=100) for q in queries]

    calls: dict[str, Callable[[str], Any]] = {
        "encode_queries([q])": lambda q: dense.encode_queries([q]),
        "index.search(q)": lambda q: index.search(q, 10, window=100),
    }
    cells: dict[str, dict[str, list[dict[str, float]]]] = {}
    for what, call in calls.items():
        for threads in (1, args.threads):
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in sessions}

            def variant(name: str, call: Callable[[str], Any] = call, threads: int = threads, runs: dict = runs) -> Any:
                def one(_: int) -> float:
                    model.each_text.short, model.each_text.session = sessions[name]
                    try:
                        runs[name].append(closed_loop(call, queries, threads))
                    finally:
                        model.each_text.short, model.each_text.session = short, sleeping
                    return runs[name][-1]["p50_ms"]

                return one

            interleaved_rounds({name: variant(name) for name in sessions}, args.rounds)
            cells[f"{what}, {threads} caller{'s' if threads > 1 else ''}"] = runs
    for name, route in sessions.items():  # every route gives the same hits
        model.each_text.short, model.each_text.session = route
        assert [index.search(q, 10, window=100) for q in queries] == reference, name
    model.each_text.short, model.each_text.session = short, sleeping
    index.close()
    connector.close()

    print(f"n={len(docs)} queries={len(queries)} rounds={args.rounds} threads={args.threads}")
    print("| case | session | p50 ms, median (range) | CPU ms/query, median (range) |")
    print("|---|---|---:|---:|")
    results: dict[str, Any] = {"n": len(docs), "queries": len(queries), "threads": args.threads, "cells": {}}
    for case, runs in cells.items():
        results["cells"][case] = {}
        for name, values in runs.items():
            p50s, cpus = [v["p50_ms"] for v in values], [v["cpu_ms"] for v in values]
            print(f"| {case} | {name} | {median_range(p50s)} | {median_range(cpus)} |")
            results["cells"][case][name] = {
                "p50_ms": [round(v, 4) for v in p50s],
                "cpu_ms_per_query": [round(v, 4) for v in cpus],
                "p50_ms_median": round(statistics.median(p50s), 4),
                "cpu_ms_median": round(statistics.median(cpus), 4),
            }
    print(machine_line())
    print(f"results: {write_results('bench_query_session', results, args.rounds)}")


if __name__ == "__main__":
    main()
