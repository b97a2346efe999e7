"""64 concurrent hybrid queries on one store: ``AsyncHybridIndex`` (asyncio.gather) vs a thread pool
over ``HybridIndex`` vs sequential ``HybridIndex.search`` calls.

Same collection, same queries, client-side RRF over dense + sparse; the encoder looks vectors up
(no model time), so what differs is only how store round trips overlap. Rounds are interleaved
(order alternating), medians reported, with ratios to sequential and the load average.

    PYTHONPATH=. python benchmarks/bench_async.py --store milvus-server --n 5000 --reps 5
    PYTHONPATH=. python benchmarks/bench_async.py --store es-emulator --n 5000 --reps 5

Stores: ``milvus-server`` (Milvus Lite's gRPC server process on 127.0.0.1, vecbridge/testing/milvus_server.py),
``es-emulator`` (the noida-db Elasticsearch EMULATOR, not a real Elasticsearch).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import interleaved, machine_line, ratio, timed, write_results  # noqa: E402
from vecbridge import AsyncHybridIndex, HybridIndex  # noqa: E402
from vecbridge.encoders import OutputKind  # noqa: E402
from vecbridge.schemas import Document, Embeddings, SparseVector  # noqa: E402

DIM, VOCAB = 384, 30000


class LookupEncoder:
    """Encoder stand-in: precomputed vectors by text (no model time)."""

    name = "lookup"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})
    dense_dim = DIM
    sparse_vocab_size = VOCAB

    def __init__(self, texts: list[str], seed: int) -> None:
        rng = np.random.default_rng(seed)
        dense = rng.standard_normal((len(texts), DIM)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        self.table = {}
        for text, row in zip(texts, dense, strict=True):
            idx = np.unique(rng.integers(0, VOCAB, 40))
            self.table[text] = (row, SparseVector(indices=idx, values=rng.random(idx.size) + 0.01))

    def encode_documents(self, texts: list[str]) -> Embeddings:
        rows = [self.table[t] for t in texts]
        return Embeddings(dense=np.stack([r[0] for r in rows]), sparse=[r[1] for r in rows])

    encode_queries = encode_documents


def connectors(store: str, stack: ExitStack) -> tuple[Any, Any]:
    """(sync connector, async connector) on one store."""
    if store == "milvus-server":
        from vecbridge.connectors.milvus import AsyncMilvusConnector, MilvusConnector
        from vecbridge.testing.milvus_server import MilvusLiteServer

        server = stack.enter_context(
            MilvusLiteServer(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "b.db")
        )
        return MilvusConnector(server.uri), AsyncMilvusConnector(server.uri)
    from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, ElasticsearchConnector
    from vecbridge.testing.es_emulator import noida_elasticsearch

    url = stack.enter_context(noida_elasticsearch(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
    return ElasticsearchConnector(url=url), AsyncElasticsearchConnector(url=url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["milvus-server", "es-emulator"], default="milvus-server")
    parser.add_argument("--n", type=int, default=5000, help="documents")
    parser.add_argument("--queries", type=int, default=64, help="concurrent hybrid queries per round")
    parser.add_argument("--threads", type=int, default=16, help="thread-pool size")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    docs = [Document(id=f"d{i}", text=f"doc {i}", metadata={"g": f"g{i % 10}"}) for i in range(args.n)]
    queries = [f"query {i}" for i in range(args.queries)]
    encoder = LookupEncoder([d.text for d in docs] + queries, seed=0)
    with ExitStack() as stack:
        sync_conn, async_conn = connectors(args.store, stack)
        index = HybridIndex.create(sync_conn, "bench_async", dense=encoder, sparse=encoder, filterable={"g": "string"})
        report = index.upsert(docs)
        assert report.ok and report.written == args.n, report.summary()
        loop = asyncio.new_event_loop()
        aindex = loop.run_until_complete(
            AsyncHybridIndex.create(
                async_conn, "bench_async", dense=encoder, sparse=encoder, filterable={"g": "string"}
            )
        )
        pool = ThreadPoolExecutor(args.threads)

        def sequential() -> list[Any]:
            return [index.search(q, k=args.k) for q in queries]

        def threads() -> list[Any]:
            return list(pool.map(lambda q: index.search(q, k=args.k), queries))

        async def gather() -> list[Any]:
            return list(await asyncio.gather(*(aindex.search(q, k=args.k) for q in queries)))

        def run_async() -> list[Any]:
            return loop.run_until_complete(gather())

        expected = [[h.id for h in hits] for hits in sequential()]
        for fn in (threads, run_async):
            assert [[h.id for h in hits] for hits in fn()] == expected, f"{fn.__name__} ranks differently"

        variants = {
            name: (lambda rep, fn=fn: {"s": timed(fn)})
            for name, fn in (
                ("sequential", sequential),
                (f"thread pool ({args.threads})", threads),
                ("async gather", run_async),
            )
        }
        medians = interleaved(variants, args.reps)
        loop.run_until_complete(async_conn.close())
        loop.close()
        pool.shutdown()
        sync_conn.drop_collection("bench_async")
        sync_conn.close()

    base = medians["sequential"]["s"]
    print(
        f"\n{args.queries} hybrid queries (dense + sparse, client RRF, k={args.k}) on {args.store}, "
        f"{args.n} docs, median of {args.reps} interleaved rounds; {machine_line()}"
    )
    print(f"| variant | seconds / {args.queries} queries | queries/s | speed-up vs sequential |")
    print("|---|---|---|---|")
    for name, m in medians.items():
        print(f"| {name} | {m['s']:.3f} | {args.queries / m['s']:.0f} | {ratio(base, m['s']):.2f}x |")
    results = {name: {"seconds": m["s"], "qps": args.queries / m["s"]} for name, m in medians.items()}
    print(f"results: {write_results(f'bench_async_{args.store}', results, args.reps)}")


if __name__ == "__main__":
    main()
