"""Encoder only, one process: vecbridge's int8 encoder vs fastembed on the same int8 graph, wall time and
CPU time per document.

    PYTHONPATH=. python benchmarks/bench_fastembed_encoder.py --docs 384 --rounds 3
    PYTHONPATH=. python benchmarks/bench_fastembed_encoder.py --docs 32 --rounds 1   # smoke

The first ``--docs`` SciFact documents (title + text), all-MiniLM-L6-v2, max length 256 on every side:
vecbridge's ``encode_documents`` (int8 graph, one text per run on single-threaded lanes) and fastembed's
``embed`` (batch 256) given the same graph as ``model.onnx``, with onnxruntime's default threads and with
``threads=1`` (``benchmarks/fastembed_anchor.py``). Two ceilings on the same graph, texts tokenized before
timing and no pooling: one text per run, unpadded, on two single-threaded sessions in two threads
(vecbridge's way without its Python), and padded batches of 256 on one session with onnxruntime's default
threads (fastembed's way without its Python); the faster of the two bounds what any pipeline around this
graph reaches here, and the table prints that bound against fastembed. Variants alternate order every round. CPU time is the
process's user + system time over all threads: it counts the work done, idle spinning included, and is
less sensitive to other processes than wall time. ``machine_line()`` is printed beside the table; results
go to ``results/bench_fastembed_encoder.json``.
"""

from __future__ import annotations

import argparse
import json
import queue
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from benchmarks.fastembed_anchor import MODEL, embed, load_fastembed
from benchmarks.timing import interleaved_rounds, machine_line, median_range, write_results


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def scifact_texts(data: Path, n: int) -> list[str]:
    """The first ``n`` SciFact documents of ``data`` as title + text (``bench_encoders``' texts)."""
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line, _ in zip(handle, range(n), strict=False)]
    return ["\n".join(p for p in (r.get("title"), r["text"]) if p) for r in rows]


def graph_alone(path: Path, batches: list[dict[str, np.ndarray]], lanes: int) -> Callable[[object], None]:
    """Runs pre-tokenized ``batches`` through the graph alone: with ``lanes`` > 1, each batch (one text) on
    whichever of ``lanes`` single-threaded sessions is free, in as many threads; else on one default session."""
    from vecbridge.encoders.onnx_runtime import open_session

    sessions = [open_session(path, num_threads=1) for _ in range(lanes)] if lanes > 1 else [open_session(path)]
    names = [i.name for i in sessions[0].get_inputs()]
    feeds = [{n: b[n] for n in names} for b in batches]
    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for session in sessions:
        idle.put(session)

    def one(feed: dict[str, np.ndarray]) -> None:
        session = idle.get()
        try:
            session.run(None, feed)
        finally:
            idle.put(session)

    def run(_: object = None) -> None:
        if lanes == 1:
            for feed in feeds:
                sessions[0].run(None, feed)
            return
        with ThreadPoolExecutor(lanes) as pool:
            list(pool.map(one, feeds))

    return run


def tokenized(tokenizer: Any, texts: list[str], max_length: int, batch: int) -> list[dict[str, np.ndarray]]:
    """``texts`` as int64 feeds, ``batch`` texts per feed padded to its longest (1: unpadded)."""
    out = []
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i : i + batch], truncation=True, max_length=max_length, padding=True, return_tensors="np")
        out.append({k: np.asarray(v, dtype=np.int64) for k, v in enc.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--docs", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from vecbridge.encoders import load_encoder
    from vecbridge.encoders.onnx_runtime import default_lanes

    texts = scifact_texts(args.data, args.docs)
    root = Path(tempfile.mkdtemp(prefix="bench-fastembed-"))
    vecbridge: Any = load_encoder(MODEL, backend="onnx", quantize="int8")
    graph, tokenizer, max_length = vecbridge.model.path, vecbridge.tokenizer, vecbridge.max_length
    lanes = default_lanes()
    encoders = {
        "fastembed on vecbridge's int8 graph (default threads)": lambda t, m=load_fastembed("int8", root): embed(m, t),
        "fastembed on vecbridge's int8 graph, threads=1": lambda t, m=load_fastembed("int8", root, 1): embed(m, t),
        "vecbridge int8": vecbridge.encode_documents,
        f"ceiling: graph alone, one text per run, {lanes} one-thread sessions": graph_alone(
            graph, tokenized(tokenizer, texts, max_length, 1), lanes
        ),
        "ceiling: graph alone, padded batches of 256, default threads": graph_alone(
            graph, tokenized(tokenizer, texts, max_length, 256), 1
        ),
    }
    for encode in encoders.values():
        encode(texts[:4])  # sessions (every lane) opened before timing
    cpu_ms: dict[str, list[float]] = {name: [] for name in encoders}

    def run(name: str) -> float:
        wall, cpu = time.perf_counter(), _cpu_seconds()
        encoders[name](texts)
        cpu_ms[name].append(1000 * (_cpu_seconds() - cpu) / len(texts))
        return len(texts) / (time.perf_counter() - wall)

    rates = interleaved_rounds({name: (lambda _, n=name: run(n)) for name in encoders}, args.rounds)
    base = next(iter(encoders))
    print(f"{len(texts)} SciFact documents, {args.rounds} interleaved rounds, encoder only")
    print(machine_line())
    print(f"| encoder | docs/s, median (range) | vs {base} | CPU ms/doc, median (range) |")
    print("|---|---:|---:|---:|")
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, rates[base], strict=True)]
        print(
            f"| {name} | {median_range(values, '{:.1f}')} | {median_range(ratios, '{:.2f}')} | "
            f"{median_range(cpu_ms[name], '{:.1f}')} |"
        )
    ceilings = [median(values) for name, values in rates.items() if name.startswith("ceiling")]
    bound = max(ceilings) / median(rates[base])
    print(
        f"bound: the faster ceiling runs {bound:.2f}x {base}; no pipeline around this graph "
        "(tokenizing and pooling included) passes it on this machine"
    )
    results = {"documents": len(texts), "docs_per_s": rates, "cpu_ms_per_doc": cpu_ms, "bound_vs_fastembed": bound}
    print(f"results: {write_results('bench_fastembed_encoder', results, args.rounds)}")


if __name__ == "__main__":
    main()
