"""Cost of the missing-key encoding on Milvus: filtered dense search latency with

- ``typed``: the typed field alone (``year >= X``), what a collection without missing keys needs;
- ``flagged``: vecbridge's encoding, the typed field guarded by the BOOL presence field
  (``(year__present == true and year >= X)``, the worst case: the guard is added only where the
  placeholder would decide wrongly);
- ``json``: the JSON path on the ``metadata`` field (``metadata["year"] >= X``), the alternative
  that needs no extra field but cannot express "key missing" on Milvus Lite 2.5.1 (no ``exists``,
  no ``not``).

One collection holds all three encodings (same rows, same vectors), so only the expression differs.
Rounds alternate the variants (ABC, CBA, ...) to spread machine load over them. Prints a table and
the load average before and after; numbers taken on a loaded machine say so.

    python -m benchmarks.experiments.bench_milvus_filters --rows 20000 --queries 40 [--server]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from benchmarks.timing import latencies_ms, percentiles

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

DIM = 64
VARIANTS = {
    "typed": "year >= {x}",
    "flagged": "(year__present == true and year >= {x})",
    "json": 'metadata["year"] >= {x}',
}


def build(client, name: str, rows: int, seed: int = 0) -> np.ndarray:
    from pymilvus import DataType, MilvusClient

    rng = np.random.default_rng(seed)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("year", DataType.INT64)
    schema.add_field("year__present", DataType.BOOL)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    params = client.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
    dense = rng.standard_normal((rows, DIM)).astype(np.float32)
    years = rng.integers(1900, 2025, rows)
    for start in range(0, rows, 5000):
        batch = []
        for i in range(start, min(rows, start + 5000)):
            meta = {"year": int(years[i]), "source": {"file": f"f{i}.txt"}, "tags": ["a", "b"]}
            batch.append(
                {"id": f"d{i}", "metadata": meta, "year": int(years[i]), "year__present": True, "dense": dense[i]}
            )
        client.upsert(name, batch)
    client.load_collection(name)
    return dense


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", action="store_true", help="Milvus Lite as a gRPC server (uri=http://...)")
    args = parser.parse_args()
    from pymilvus import MilvusClient

    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-filters-"))
    server = None
    if args.server:
        from vecbridge.testing.milvus_server import MilvusLiteServer

        server = MilvusLiteServer(workdir / "server.db").start()
        uri = server.uri
    else:
        uri = str(workdir / "bench.db")
    try:
        client = MilvusClient(uri)
        dense = build(client, "bench_filters", args.rows)
        rng = np.random.default_rng(1)
        queries = [dense[int(i)] for i in rng.integers(0, args.rows, args.queries)]
        thresholds = {"selective (~2%)": 2022, "half (~50%)": 1962}
        samples: dict[tuple[str, str], list[np.ndarray]] = {}
        for label, x in thresholds.items():
            expected = None
            for variant in VARIANTS:  # same answers from every encoding
                expr = VARIANTS[variant].format(x=x)
                ids = {
                    h["id"]
                    for h in client.search(
                        "bench_filters",
                        data=[queries[0]],
                        anns_field="dense",
                        limit=10,
                        filter=expr,
                        search_params={"metric_type": "IP"},
                    )[0]
                }
                assert expected is None or ids == expected, (variant, label)
                expected = ids
            for round_ in range(args.rounds):
                order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
                for variant in order:
                    expr = VARIANTS[variant].format(x=x)

                    def run(q, expr=expr):
                        return client.search(
                            "bench_filters",
                            data=[q],
                            anns_field="dense",
                            limit=10,
                            filter=expr,
                            search_params={"metric_type": "IP"},
                        )

                    samples.setdefault((label, variant), []).append(latencies_ms(run, queries, warmup=3))
        client.close()
    finally:
        if server is not None:
            server.stop()
    load_after = os.getloadavg()
    engine = "Milvus Lite 2.5.1 server (http)" if args.server else "Milvus Lite 2.5.1 file"
    print(f"{engine}, {args.rows} rows, dim {DIM}, FLAT/IP, k=10, {args.queries} queries x {args.rounds} rounds")
    print(
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} on {os.cpu_count()} cores"
        + ("  (TAKEN UNDER LOAD)" if max(load_before[0], load_after[0]) > 0.5 * (os.cpu_count() or 1) else "")
    )
    print("| selectivity | encoding | p50 ms | p95 ms | p50 vs typed |")
    print("|---|---|---|---|---|")
    for label in thresholds:
        base = percentiles(np.concatenate(samples[(label, "typed")]))["p50"]
        for variant in VARIANTS:
            p = percentiles(np.concatenate(samples[(label, variant)]))
            print(f"| {label} | {variant} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p50'] / base:.2f}x |")


if __name__ == "__main__":
    main()
