"""Overhead of ``MilvusConnector`` over direct pymilvus ``MilvusClient`` calls on Milvus Lite.

Same data (precomputed random 384-d normalized dense + random sparse vectors, no model time),
same chunking (1000 rows per upsert), same collection for searches. Ingest rows/s and search
p50/p95 for dense, sparse and native hybrid (RRF), alternating which side runs first.

    /work/venv/bin/python benchmarks/bench_milvus_overhead.py --n 20000 --queries 200 --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import (  # noqa: E402
    interleaved,
    latencies_ms,
    machine_line,
    percentiles,
    ratio,
    timed,
    write_results,
)
from vecbridge import HybridIndex, Retriever, rrf  # noqa: E402
from vecbridge.connectors.milvus import MilvusConnector  # noqa: E402
from vecbridge.connectors.milvus.schema import build_index_params, build_schema  # noqa: E402
from vecbridge.encoders import OutputKind  # noqa: E402
from vecbridge.schemas import CollectionSpec, Document, Embeddings, IndexBatch, ScalarType, SparseVector  # noqa: E402

DIM, VOCAB, CHUNK = 384, 30000, 1000
SPEC = CollectionSpec(name="bench", dense_dim=DIM, filterable={"genre": ScalarType.STRING})


def make_data(n: int, seed: int = 0) -> tuple[list[Document], np.ndarray, list[dict[int, float]]]:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse = []
    for _ in range(n):
        idx = np.unique(rng.integers(0, VOCAB, 40))
        sparse.append(dict(zip(idx.tolist(), (rng.random(idx.size) + 0.01).tolist(), strict=True)))
    docs = [Document(id=f"d{i}", text=f"text {i}", metadata={"genre": f"g{i % 10}", "n": i}) for i in range(n)]
    return docs, dense, sparse


class PrecomputedEncoder:
    """Encoder stand-in: returns precomputed vectors looked up by text, so no model time is counted."""

    name = "precomputed"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})
    dense_dim = DIM
    sparse_vocab_size = VOCAB

    def __init__(self) -> None:
        self.table: dict[str, tuple[np.ndarray, SparseVector]] = {}

    def encode_documents(self, texts: list[str]) -> Embeddings:
        rows = [self.table[t] for t in texts]
        return Embeddings(dense=np.stack([r[0] for r in rows]), sparse=[r[1] for r in rows])

    encode_queries = encode_documents


def facade(connector: MilvusConnector, name: str, encoder: PrecomputedEncoder) -> HybridIndex:
    spec = SPEC.model_copy(update={"name": name})
    retrievers = [
        Retriever("dense", encoder, OutputKind.DENSE, "dense"),
        Retriever("sparse", encoder, OutputKind.SPARSE, "sparse"),
    ]
    return HybridIndex(connector, spec, retrievers, batch_size=CHUNK)


class RecordingClient:
    """Wraps the real ``MilvusClient`` and keeps the last raw result of every call (searches by field)."""

    def __init__(self, real: object) -> None:
        self.real, self.recorded = real, {}

    @staticmethod
    def key(name: str, kwargs: dict) -> str:
        return f"{name}:{kwargs.get('anns_field', '')}"

    def __getattr__(self, name: str):
        method = getattr(self.real, name)

        def call(*args, **kwargs):
            result = method(*args, **kwargs)
            self.recorded[self.key(name, kwargs)] = result
            return result

        return call


class ReplayClient:
    """A ``MilvusClient`` stand-in returning recorded raw pymilvus results: no I/O, no engine, but the
    connector's own request building and result conversion still run on every call."""

    def __init__(self, recorded: dict) -> None:
        self.recorded = recorded

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self.recorded[RecordingClient.key(name, kwargs)]


def facade_cpu_per_call(
    connector, index, q_dense, q_sparse, k: int, window: int, calls: int = 2000
) -> dict[str, float]:
    """Median ms per call of HybridIndex + MilvusConnector over a stubbed ``MilvusClient`` (replaying
    recorded raw results); the stub's own call cost is subtracted."""
    recording = RecordingClient(connector.client)
    probe = MilvusConnector(connector.uri)
    probe._client = recording  # record what the real client returns for exactly these calls
    spec = probe._spec("bench")
    probe.search_dense("bench", q_dense, window)
    probe.search_sparse("bench", q_sparse, window)
    probe.search_hybrid_native("bench", q_dense, {"sparse": q_sparse}, k, window=window)
    stub = MilvusConnector(connector.uri)
    stub._client = ReplayClient(recording.recorded)
    stub._specs["bench"] = spec
    replay = HybridIndex(stub, index.spec, list(index.retrievers.values()))
    client = stub.client
    cases = {
        "dense": (
            lambda: replay.search("q0", window, mode="dense"),
            lambda: client.search("bench", anns_field="dense"),
        ),
        "sparse": (
            lambda: replay.search("q0", window, mode="sparse"),
            lambda: client.search("bench", anns_field="sparse"),
        ),
        "hybrid (native)": (
            lambda: replay.search("q0", k, window=window, native=True),
            lambda: client.hybrid_search("bench"),
        ),
        "hybrid (client-side RRF)": (
            lambda: replay.search("q0", k, window=window),
            lambda: (client.search("bench", anns_field="dense"), client.search("bench", anns_field="sparse")),
        ),
    }
    out = {}
    for name, (call, stub_only) in cases.items():
        runs = [
            np.median(latencies_ms(lambda _: call(), range(calls // 10)))
            - np.median(latencies_ms(lambda _: stub_only(), range(calls // 10)))
            for _ in range(10)
        ]
        out[name] = float(np.median(runs))
    return out


def raw_rows(docs: list[Document], dense: np.ndarray, sparse: list[dict[int, float]]) -> list[dict]:
    return [
        {
            "id": d.id,
            "text": d.text,
            "metadata": d.metadata,
            "genre": d.metadata["genre"],
            "dense": dense[i],
            "sparse": sparse[i],
        }
        for i, d in enumerate(docs)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    docs, dense, sparse = make_data(args.n)
    batch = IndexBatch(documents=docs, dense=dense, sparse={"sparse": [SparseVector.from_dict(s) for s in sparse]})
    rows = raw_rows(docs, dense, sparse)
    workdir = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    connector = MilvusConnector(str(workdir / "bench.db"), batch_size=CHUNK)
    client = connector.client  # the raw side uses the very same MilvusClient / embedded server

    def fresh(name: str) -> None:
        if client.has_collection(name):
            client.drop_collection(name)

    def ingest_ours(rep: int) -> dict[str, float]:
        spec = SPEC.model_copy(update={"name": f"ours{rep}"})
        fresh(spec.name)
        connector.ensure_collection(spec)
        seconds = timed(lambda: connector.upsert(spec.name, batch))
        connector.drop_collection(spec.name)
        return {"rows_per_s": args.n / seconds}

    def ingest_raw(rep: int) -> dict[str, float]:
        name = f"raw{rep}"
        fresh(name)
        spec = SPEC.model_copy(update={"name": name})
        client.create_collection(
            name,
            schema=build_schema(spec),
            index_params=build_index_params(client, spec, True),
            consistency_level="Strong",
        )

        def run() -> None:
            for start in range(0, len(rows), CHUNK):
                client.upsert(name, rows[start : start + CHUNK])

        seconds = timed(run)
        client.drop_collection(name)
        return {"rows_per_s": args.n / seconds}

    encoder = PrecomputedEncoder()
    for i, d in enumerate(docs):
        encoder.table[d.text] = (dense[i], batch.sparse["sparse"][i])

    def ingest_facade(rep: int) -> dict[str, float]:
        name = f"facade{rep}"
        fresh(name)
        index = facade(connector, name, encoder)
        seconds = timed(lambda: index.upsert(docs))
        connector.drop_collection(name)
        return {"rows_per_s": args.n / seconds}

    ingest = interleaved({"connector": ingest_ours, "HybridIndex": ingest_facade, "pymilvus": ingest_raw}, args.reps)

    # searches on one shared collection
    fresh("bench")
    connector.ensure_collection(SPEC)
    connector.upsert("bench", batch)
    rng = np.random.default_rng(1)
    q_dense = dense[rng.integers(0, args.n, args.queries)] + 0.01 * rng.standard_normal((args.queries, DIM)).astype(
        np.float32
    )
    q_sparse_raw = [sparse[i] for i in rng.integers(0, args.n, args.queries)]
    q_sparse = [SparseVector.from_dict(s) for s in q_sparse_raw]
    k, window = args.k, 50
    for i in range(args.queries):
        encoder.table[f"q{i}"] = (q_dense[i], q_sparse[i])
    index = facade(connector, "bench", encoder)
    out = ["text", "metadata"]
    from pymilvus import AnnSearchRequest, RRFRanker

    def raw_hybrid(i: int) -> object:
        reqs = [
            AnnSearchRequest(data=[q_dense[i]], anns_field="dense", param={"metric_type": "IP"}, limit=window),
            AnnSearchRequest(data=[q_sparse_raw[i]], anns_field="sparse", param={"metric_type": "IP"}, limit=window),
        ]
        return client.hybrid_search("bench", reqs, RRFRanker(60), limit=k, output_fields=out)

    ops = {
        "dense": (
            lambda i: connector.search_dense("bench", q_dense[i], k),
            lambda i: index.search(f"q{i}", k, mode="dense"),
            lambda i: client.search(
                "bench",
                data=[q_dense[i]],
                anns_field="dense",
                limit=k,
                output_fields=out,
                search_params={"metric_type": "IP"},
            ),
        ),
        "sparse": (
            lambda i: connector.search_sparse("bench", q_sparse[i], k),
            lambda i: index.search(f"q{i}", k, mode="sparse"),
            lambda i: client.search(
                "bench",
                data=[q_sparse_raw[i]],
                anns_field="sparse",
                limit=k,
                output_fields=out,
                search_params={"metric_type": "IP"},
            ),
        ),
        "hybrid": (
            lambda i: connector.search_hybrid_native("bench", q_dense[i], {"sparse": q_sparse[i]}, k, window=window),
            lambda i: index.search(f"q{i}", k, window=window, native=True),
            raw_hybrid,
        ),
        # client-side RRF (the facade's default): two searches + fusion, vs one server-side hybrid_search
        "hybrid, client-side RRF": (
            lambda i: rrf(
                {
                    "dense": connector.search_dense("bench", q_dense[i], window),
                    "sparse": connector.search_sparse("bench", q_sparse[i], window),
                },
                k,
            ),
            lambda i: index.search(f"q{i}", k, window=window),
            raw_hybrid,
        ),
    }
    queries = list(range(args.queries))
    search: dict[str, dict[str, dict[str, float]]] = {}
    for op, (ours, ours_facade, raw) in ops.items():
        search[op] = interleaved(
            {
                "connector": lambda rep, f=ours: percentiles(latencies_ms(f, queries)),
                "HybridIndex": lambda rep, f=ours_facade: percentiles(latencies_ms(f, queries)),
                "pymilvus": lambda rep, f=raw: percentiles(latencies_ms(f, queries)),
            },
            args.reps,
        )
    own_cpu = facade_cpu_per_call(connector, index, q_dense[0], q_sparse[0], k, window)
    # ingest: vecbridge's own CPU per row = facade batch assembly + connector row building (no I/O)
    spec = connector._spec("bench")
    own_ingest_us = {
        "HybridIndex.encode_documents (stand-in encoder + IndexBatch)": statistics.median(
            timed(lambda: [index.encode_documents(docs[i : i + CHUNK]) for i in range(0, args.n, CHUNK)])
            for _ in range(5)
        )
        / args.n
        * 1e6,
        "MilvusConnector row building (checks + SparseVector -> dict)": statistics.median(
            timed(lambda: connector._rows(spec, batch)) for _ in range(5)
        )
        / args.n
        * 1e6,
    }
    connector.close()

    lines = [
        f"n={args.n} dim={DIM} queries={args.queries} reps={args.reps} k={k} window={window} (medians over reps)",
        "",
        "| operation | metric | connector | HybridIndex | pymilvus | connector/pymilvus | HybridIndex/pymilvus |",
        "|---|---|---|---|---|---|---|",
    ]
    rows_s = {name: ingest[name]["rows_per_s"] for name in ingest}
    lines.append(
        f"| ingest | rows/s | {rows_s['connector']:.0f} | {rows_s['HybridIndex']:.0f} | {rows_s['pymilvus']:.0f} | "
        f"{ratio(rows_s['connector'], rows_s['pymilvus']):.3f} | {ratio(rows_s['HybridIndex'], rows_s['pymilvus']):.3f} |"
    )
    for op, res in search.items():
        for metric in ("p50", "p95"):
            c, f, r = res["connector"][metric], res["HybridIndex"][metric], res["pymilvus"][metric]
            lines.append(
                f"| {op} search | {metric} ms | {c:.3f} | {f:.3f} | {r:.3f} | {ratio(c, r):.3f} | {ratio(f, r):.3f} |"
            )
    lines += [
        "",
        "HybridIndex + MilvusConnector own CPU per call (stubbed MilvusClient replaying recorded raw "
        "pymilvus results; request building and result conversion included, no I/O):",
        "",
        "| search | vecbridge CPU per call ms | share of pymilvus p50 |",
        "|---|---|---|",
    ]
    base = {"dense": "dense", "sparse": "sparse", "hybrid (native)": "hybrid", "hybrid (client-side RRF)": "hybrid"}
    for op, ms in own_cpu.items():
        lines.append(f"| {op} | {ms:.3f} | {100 * ms / search[base[op]]['pymilvus']['p50']:.1f} % |")
    per_row_us = 1e6 / ingest["pymilvus"]["rows_per_s"]
    lines += [
        "",
        f"Ingest: vecbridge's own CPU per row (no I/O) vs {per_row_us:.1f} us per row for pymilvus upsert:",
        "",
        "| step | us per row | share of pymilvus upsert |",
        "|---|---|---|",
    ]
    for step, us in own_ingest_us.items():
        lines.append(f"| {step} | {us:.2f} | {100 * us / per_row_us:.1f} % |")
    lines += ["", machine_line()]
    print("\n".join(lines))
    results = {"ingest": ingest, "search": search, "own_cpu_ms": own_cpu, "own_ingest_us_per_row": own_ingest_us}
    print(f"results: {write_results('bench_milvus_overhead', results, args.reps)}")


if __name__ == "__main__":
    main()
