"""Overhead of ElasticsearchConnector vs the same calls written directly with elasticsearch-py.

Runs against the noida-db EMULATOR (started here on 127.0.0.1, not a real Elasticsearch) unless
--url is given. Same data, same request bodies, one run; A/B calls interleaved so drift hits both.

    python benchmarks/bench_es_overhead.py [--docs 3000] [--queries 60] [--url http://...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import machine_line, write_results  # noqa: E402
from vecbridge.connectors.elasticsearch import ElasticsearchConnector  # noqa: E402
from vecbridge.connectors.elasticsearch.mapping import build_mapping  # noqa: E402
from vecbridge.schemas import CollectionSpec, Document, IndexBatch, SparseVector  # noqa: E402

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


def make_data(n: int, dim: int, seed: int = 0) -> IndexBatch:
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    docs, sparse = [], []
    for i in range(n):
        docs.append(
            Document(
                id=f"d{i}",
                text=" ".join(rng.choice(WORDS, 12)),
                metadata={"year": int(rng.integers(1990, 2025)), "lang": str(rng.choice(["en", "de"]))},
            )
        )
        idx = rng.choice(3000, 20, replace=False)
        sparse.append(SparseVector(indices=idx, values=rng.uniform(0.05, 2.0, 20)))
    return IndexBatch(documents=docs, dense=dense, sparse={"sparse": sparse})


def direct_ingest(es: Elasticsearch, index: str, batch: IndexBatch) -> None:
    """What a user would write by hand: same _source, streaming_bulk, then one refresh."""
    dense = batch.dense.tolist()
    actions = (
        {
            "_index": index,
            "_id": d.id,
            "_source": {
                "id": d.id,
                "text": d.text,
                "metadata": d.metadata,
                "dense": dense[i],
                "sparse": {
                    str(k): v
                    for k, v in zip(
                        batch.sparse["sparse"][i].indices.tolist(),
                        batch.sparse["sparse"][i].values.tolist(),
                        strict=True,
                    )
                },
            },
        }
        for i, d in enumerate(batch.documents)
    )
    for ok, item in helpers.streaming_bulk(es, actions, chunk_size=500, raise_on_error=False):
        assert ok, item
    es.indices.refresh(index=index)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--ingest-rounds", type=int, default=3)
    parser.add_argument("--url", default=None, help="real Elasticsearch URL (default: start the noida-db emulator)")
    args = parser.parse_args()

    with ExitStack() as stack:
        if args.url:
            url, target = args.url, f"Elasticsearch at {args.url}"
        else:
            from vecbridge.testing.es_emulator import noida_elasticsearch

            url = stack.enter_context(noida_elasticsearch(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
            target = "noida-db 0.2.3 EMULATOR (not real Elasticsearch)"
        es = Elasticsearch(url, request_timeout=120)
        conn = ElasticsearchConnector(url=url, request_timeout=120)
        stack.callback(conn.close)
        batch = make_data(args.docs, args.dim)
        spec = CollectionSpec(
            name="bench", dense_dim=args.dim, sparse_fields=("sparse",), filterable={"year": "int", "lang": "string"}
        )
        mapping = build_mapping(spec, conn.config)

        # ---- ingest: alternate connector / direct into fresh indices --------------------------
        ingest: dict[str, list[float]] = {"connector": [], "direct": []}
        for r in range(args.ingest_rounds):
            for kind in ("connector", "direct") if r % 2 == 0 else ("direct", "connector"):
                name = f"bench_{kind}"
                es.indices.delete(index=name, ignore_unavailable=True)
                if kind == "connector":
                    conn._specs.pop(name, None)
                    conn.ensure_collection(spec.model_copy(update={"name": name}))
                    ingest[kind].append(timed(lambda: conn.upsert(name, batch)))
                else:
                    es.indices.create(index=name, mappings=mapping)
                    ingest[kind].append(timed(lambda: direct_ingest(es, name, batch)))
        assert es.count(index="bench_connector")["count"] == es.count(index="bench_direct")["count"] == args.docs

        # ---- searches: same bodies, same index, interleaved ------------------------------------
        rng = np.random.default_rng(1)
        index = "bench_direct"
        conn._specs[index] = spec.model_copy(update={"name": index})
        k, fields = 10, ["id", "text", "metadata"]
        cases: dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]] = {}
        qd = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
        qd /= np.linalg.norm(qd, axis=1, keepdims=True)
        qs = [
            SparseVector(indices=rng.choice(3000, 8, replace=False), values=rng.uniform(0.1, 2, 8))
            for _ in range(args.queries)
        ]
        qt = [" ".join(rng.choice(WORDS, 3)) for _ in range(args.queries)]
        cases["dense"] = (
            lambda i: conn.search_dense(index, qd[i], k),
            lambda i: es.search(
                index=index,
                size=k,
                source_includes=fields,
                knn={"field": "dense", "query_vector": qd[i].tolist(), "k": k, "num_candidates": 100},
            ),
        )
        cases["sparse"] = (
            lambda i: conn.search_sparse(index, qs[i], k),
            lambda i: es.search(
                index=index,
                size=k,
                source_includes=fields,
                query={
                    "bool": {
                        "should": [
                            {"rank_feature": {"field": f"sparse.{t}", "linear": {}, "boost": w}}
                            for t, w in zip(qs[i].indices.tolist(), qs[i].values.tolist(), strict=True)
                        ],
                        "minimum_should_match": 1,
                    }
                },
            ),
        )
        cases["bm25"] = (
            lambda i: conn.search_text(index, qt[i], k),
            lambda i: es.search(index=index, size=k, source_includes=fields, query={"match": {"text": qt[i]}}),
        )
        results: dict[str, dict[str, list[float]]] = {}
        for case, (via_conn, direct) in cases.items():
            via_conn(0), direct(0)  # warm-up
            times: dict[str, list[float]] = {"connector": [], "direct": []}
            for i in range(args.queries):
                order = [("connector", via_conn), ("direct", direct)]
                for kind, fn in order if i % 2 == 0 else order[::-1]:
                    times[kind].append(timed(lambda: fn(i)))
            results[case] = times

        # ---- connector-side CPU per call: replay a recorded response through a stub client ------
        class _Stub:
            def __init__(self, resp: Any):
                self.resp = resp

            def search(self, **_: Any) -> Any:
                return self.resp

        cpu: dict[str, float] = {}
        real_client = conn._client
        for case, (via_conn, direct) in cases.items():
            conn._client = _Stub(direct(0))  # type: ignore[assignment]
            reps = 300
            start = time.perf_counter()
            for j in range(reps):
                via_conn(j % args.queries)
            cpu[case] = (time.perf_counter() - start) / reps * 1000.0
        conn._client = real_client

        print(f"target: {target}; docs={args.docs} dim={args.dim} queries={args.queries} k={k}")
        print(machine_line())
        print(f"{'metric':<22}{'connector':>12}{'direct':>12}{'overhead':>10}")
        c, d = np.median(ingest["connector"]), np.median(ingest["direct"])
        print(f"{'ingest docs/s (med)':<22}{args.docs / c:>12.0f}{args.docs / d:>12.0f}{(c / d - 1) * 100:>9.1f}%")
        for case, times in results.items():
            for q in (50, 95):
                a, b = pct(times["connector"], q), pct(times["direct"], q)
                print(f"{case + f' p{q} ms':<22}{a:>12.2f}{b:>12.2f}{(a / b - 1) * 100:>9.1f}%")
        print("connector-side CPU per call (stub client, no I/O) as a share of the direct p50:")
        for case, ms in cpu.items():
            print(f"  {case:<8}{ms:>8.3f} ms  = {ms / pct(results[case]['direct'], 50) * 100:5.2f} %")
        summary = {
            "target": target,
            "ingest_docs_per_s": {side: args.docs / float(np.median(ingest[side])) for side in ("connector", "direct")},
            "search_ms": {
                case: {side: {f"p{q}": pct(times[side], q) for q in (50, 95)} for side in ("connector", "direct")}
                for case, times in results.items()
            },
            "connector_cpu_ms": cpu,
        }
        print(f"results: {write_results('bench_es_overhead', summary, args.ingest_rounds)}")
        for name in ("bench_connector", "bench_direct"):
            es.indices.delete(index=name, ignore_unavailable=True)
        es.close()


if __name__ == "__main__":
    main()
