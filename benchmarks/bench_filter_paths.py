"""What filtering on an undeclared key (the JSON path) costs against a declared key, through the
connectors, as users call them.

One collection holds both: ``cat`` is declared ``int`` (typed field), ``cat_json`` is the same
value under a key that is not declared (Milvus: ``metadata["cat_json"]`` JSON path; Elasticsearch:
the ``meta_terms`` keyword field). Filters (``c`` = 1 of 100 values, so 1 % of the rows):

- ``eq``:    ``key == c``                       (1 % selected)
- ``range``: ``key < 10``                       (10 % selected)
- ``not_in``: ``key not in [c, c + 1]``         (98 % selected; negations are where encodings differ)

Each is timed as a filtered dense search (k=10) and as a count. Rounds alternate declared and
undeclared (ABBA...); the figure is the median over rounds of each round's median latency. Prints
the load average before and after and the CPU's vector flags (AVX-512 VNNI / AVX2).

    python -m benchmarks.bench_filter_paths --rows 100000 --rounds 8
    python -m benchmarks.bench_filter_paths --backends es --es-rows 10000 --rounds 4 --queries 5

The noida-db emulator ingests a few hundred rows a second and scans per query, so it runs at
``--es-rows`` (default 10,000): its figures show the relative cost, not a real cluster's.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.timing import interleaved_rounds, machine_line, write_results

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

DIM, VALUES, BATCH = 32, 100, 5000


def load(connector: Any, name: str, rows: int, seed: int = 0) -> np.ndarray:
    """``rows`` documents with ``cat`` (declared) == ``cat_json`` (undeclared) and some other metadata."""
    from vecbridge.schemas import CollectionSpec, Document, IndexBatch, ScalarType

    connector.ensure_collection(
        CollectionSpec(name=name, dense_dim=DIM, sparse_fields=(), filterable={"cat": ScalarType.INT})
    )
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((rows, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    cats = rng.integers(0, VALUES, rows)
    for start in range(0, rows, BATCH):
        docs = [
            Document(
                id=f"d{i}",
                text="",
                metadata={
                    "cat": int(cats[i]),
                    "cat_json": int(cats[i]),
                    "source": {"file": f"f{i}.txt"},
                    "tags": ["a", "b"],
                },
            )
            for i in range(start, min(rows, start + BATCH))
        ]
        connector.upsert(name, IndexBatch(documents=docs, dense=dense[start : start + BATCH]))
    return dense


def filters(key: str, c: int) -> dict[str, Any]:
    from vecbridge.schemas import Condition

    return {
        "eq": Condition(key=key, op="==", value=c),
        "range": Condition(key=key, op="<", value=10),
        "not_in": Condition(key=key, op="not in", value=[c, c + 1]),
    }


def one_round(connector: Any, name: str, key: str, kind: str, call: str, queries: np.ndarray) -> float:
    """Median latency (ms) of ``len(queries)`` calls of one filter kind, on one key."""
    times = []
    for i, q in enumerate(queries):
        node = filters(key, i % VALUES)[kind]
        start = time.perf_counter()
        if call == "search":
            connector.search_dense(name, q, 10, filter=node, content=False)
        else:
            connector.count(name, node)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def bench(connector: Any, name: str, rounds: int, queries: np.ndarray) -> list[tuple[str, float, float]]:
    """(filter / call, declared ms, undeclared ms) medians over interleaved rounds."""
    out = []
    for kind in ("eq", "range", "not_in"):
        for call in ("search", "count"):
            variants: dict[str, Callable[[int], float]] = {
                key: (lambda rnd, key=key: one_round(connector, name, key, kind, call, queries))
                for key in ("cat", "cat_json")
            }
            one_round(connector, name, "cat", kind, call, queries[:3])  # warm-up
            one_round(connector, name, "cat_json", kind, call, queries[:3])
            values = interleaved_rounds(variants, rounds)
            out.append((f"{kind} / {call}", statistics.median(values["cat"]), statistics.median(values["cat_json"])))
    return out


def report(title: str, rows: list[tuple[str, float, float]]) -> dict[str, dict[str, float]]:
    print(f"\n{title}  ({machine_line()})")
    print(f"{'filter / call':18} {'declared ms':>12} {'JSON path ms':>13} {'ratio':>6}")
    for label, declared, undeclared in rows:
        print(f"{label:18} {declared:12.2f} {undeclared:13.2f} {undeclared / declared:6.2f}")
    return {label: {"declared_ms": d, "undeclared_ms": u, "ratio": u / d} for label, d, u in rows}


def run_milvus(rows: int, rounds: int, queries: np.ndarray, workdir: Path) -> dict[str, dict[str, float]]:
    from vecbridge.connectors.milvus import MilvusConnector

    connector = MilvusConnector(str(workdir / "bench.db"))
    start = time.perf_counter()
    load(connector, "paths", rows)
    print(f"Milvus Lite: loaded {rows} rows in {time.perf_counter() - start:.1f} s")
    table = report(
        f"Milvus Lite 2.5.1 (file), {rows} rows, dim {DIM}, FLAT", bench(connector, "paths", rounds, queries)
    )
    connector.close()
    return table


def run_es(rows: int, rounds: int, queries: np.ndarray, workdir: Path) -> dict[str, dict[str, float]]:
    from vecbridge.connectors.elasticsearch import ElasticsearchConnector
    from vecbridge.testing.es_emulator import noida_elasticsearch

    (workdir / "noida").mkdir()
    with noida_elasticsearch(workdir / "noida") as url:
        connector = ElasticsearchConnector(url=url)
        start = time.perf_counter()
        load(connector, "paths", rows)
        print(f"ES emulator: loaded {rows} rows in {time.perf_counter() - start:.1f} s")
        table = report(f"noida-db ES emulator, {rows} rows, dim {DIM}", bench(connector, "paths", rounds, queries))
        connector.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--queries", type=int, default=15, help="calls per round and variant")
    parser.add_argument("--backends", default="milvus", help="comma-separated: milvus, es (the noida-db emulator)")
    parser.add_argument("--es-rows", type=int, default=10_000, help="rows for the emulator (it ingests ~500 rows/s)")
    args = parser.parse_args()
    queries = np.random.default_rng(1).standard_normal((args.queries, DIM)).astype(np.float32)
    print(f"before: {machine_line()}")
    results: dict[str, object] = {"rows": {"milvus": args.rows, "es_emulator": args.es_rows}}
    with tempfile.TemporaryDirectory() as tmp:
        if "milvus" in args.backends:
            results["milvus_lite"] = run_milvus(args.rows, args.rounds, queries, Path(tmp))
        if "es" in args.backends:
            results["es_emulator"] = run_es(args.es_rows, args.rounds, queries, Path(tmp))
    print(f"\nafter: {machine_line()}")
    print(f"results: {write_results('bench_filter_paths', results, args.rounds)}")


if __name__ == "__main__":
    main()
