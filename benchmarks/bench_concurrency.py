"""Throughput under concurrency: hybrid searches WITH query encoding from 8 / 32 client threads or
asyncio tasks against one index, vecbridge vs the service code a user would write by hand.

Corpus: the first ``--n`` SciFact documents (title + text), dense all-MiniLM-L6-v2 (vecbridge's CPU
default: the int8 ONNX graph) + one fitted ``BM25Encoder`` (sparse), in one collection that every
variant searches (k=10, RRF k=60, window 100). Stores: ``milvus`` (Milvus Lite's gRPC server process
on 127.0.0.1, ``vecbridge/testing/milvus_server.py``) and ``es`` (noida-db, an Elasticsearch
EMULATOR, not a real Elasticsearch: ``vecbridge/testing/es_emulator.py``).

Variants (each request: encode the query dense + BM25, search, top 10 with text):

- ``vecbridge threads``: ``HybridIndex.search`` from a ``ThreadPoolExecutor`` of C workers (default
  ``batch_queries=True``: searches at once served as one batch, one encoder call and one multi-query
  store call per retriever);
- ``vecbridge threads, batch_queries=False``: every search on its own;
- ``vecbridge threads, native=True`` (Milvus only; the emulator has no server-side RRF): the same with
  the store's own RRF, one store call per search;
- ``vecbridge async``: ``AsyncHybridIndex.search`` from C asyncio tasks (default ``batch_queries=True``);
- ``hand-written fastembed int8``: fastembed ``TextEmbedding`` given vecbridge's own int8 graph as
  its ``model.onnx`` + the same BM25 query vector + one store call, from a ``ThreadPoolExecutor`` of C
  workers. Milvus: ``MilvusClient.hybrid_search`` (server-side RRF). Elasticsearch: one ``msearch``
  (knn + rank_feature query) and RRF client-side;
- ``hand-written fastembed fp32``: the same with fastembed's default fp32 graph (vecbridge's fp32 export).

Each run is a closed loop: C workers take the next of ``--requests`` (ES: ``--es-requests``) queries
until none is left. Reported per run: QPS (requests / wall time), p50 and p99 latency, and the CPU
milliseconds per request of this process (client) and of the store's processes (steadier than wall
time when the machine is shared). Variants run once per round, the
order reversed every other round; tables give the median over rounds and the range.
``--burn N`` keeps N extra CPU-bound processes spinning during the rounds (the oversubscribed case,
labelled so in every table and in the JSON).

    PYTHONPATH=. python benchmarks/bench_concurrency.py --n 5000 --rounds 3 --cache /tmp/vb-cache
    PYTHONPATH=. python benchmarks/bench_concurrency.py --n 5000 --rounds 3 --cache /tmp/vb-cache --burn 3 \
        --fastembed int8 --skip-unbatched     # oversubscribed
    PYTHONPATH=. python benchmarks/bench_concurrency.py --n 300 --requests 40 --es-requests 20 --rounds 1 \
        --concurrency 8 --fastembed int8 --name smoke_concurrency     # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_hybrid_search import PrecomputedEncoder  # noqa: E402
from benchmarks.timing import interleaved_rounds, machine_info, machine_line, median_range, write_results  # noqa: E402
from vecbridge import AsyncHybridIndex, HybridIndex, Retriever, RetrieverKind  # noqa: E402
from vecbridge.encoders import load_encoder  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402
from vecbridge.encoders.loading import resolve_model_path  # noqa: E402
from vecbridge.schemas import Document, IndexBatch  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
FASTEMBED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
FASTEMBED_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
RRF_K = 60


# ---- data and index -------------------------------------------------------------------------------
def read_scifact(data: Path, n: int) -> tuple[list[Document], list[str]]:
    docs, queries = [], []
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in itertools.islice(handle, n):
            row = json.loads(line)
            docs.append(Document(id=str(row["_id"]), text=f"{row.get('title', '')}\n{row['text']}"))
    with (data / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle]
    return docs, queries


def fill(index: HybridIndex, docs: list[Document], cache: Path | None) -> None:
    """Write ``docs`` with vecbridge's encoders; dense vectors read from / kept in ``cache`` when given."""
    dense_encoder, bm25 = index.retrievers["dense"].encoder, index.retrievers["sparse"].encoder
    texts = [d.text for d in docs]
    path = None if cache is None else cache / f"concurrency-{MODEL}-int8-{len(docs)}.npy"
    if path is not None and path.is_file():
        dense = np.load(path)
    else:
        dense = dense_encoder.encode_documents(texts).dense
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, dense)
    sparse = bm25.encode_documents(texts).sparse
    for start in range(0, len(docs), 500):
        rows = slice(start, start + 500)
        batch = IndexBatch(documents=docs[rows], dense=dense[rows], sparse={"sparse": sparse[rows]})
        index.connector.upsert(index.spec.name, batch)


def fastembed_folder(onnx_file: Path, workdir: Path, label: str) -> Path:
    """A folder fastembed loads offline: ``onnx_file`` as ``model.onnx`` plus the tokenizer files."""
    folder = workdir / f"fastembed-{label}"
    folder.mkdir(parents=True, exist_ok=True)
    source = resolve_model_path(MODEL)
    for name in FASTEMBED_FILES:
        shutil.copy(source / name, folder / name)
    (folder / "model.onnx").unlink(missing_ok=True)
    (folder / "model.onnx").symlink_to(onnx_file.resolve())
    return folder


def load_fastembed(folder: Path, max_length: int) -> Any:
    from fastembed import TextEmbedding

    model = TextEmbedding(model_name=FASTEMBED_NAME, specific_model_path=str(folder))
    tokenizer = getattr(getattr(model, "model", None), "tokenizer", None)
    if tokenizer is not None:  # same truncation as vecbridge (fastembed's default differs)
        tokenizer.enable_truncation(max_length=max_length)
    return model


# ---- floors: the same searches without encoding; the encoding's own cost ------------------------------
def encoding_floor(dense: Any, bm25: BM25Encoder, queries: list[str]) -> float:
    """CPU ms per query of the cheapest run of the int8 graph this host has: one query per run on a
    one-thread session, tokenized beforehand, plus its BM25 vector. Neither side can encode for less."""
    from vecbridge.encoders.onnx_runtime import open_session

    session = open_session(dense.onnx_path, None, 1)
    names = [i.name for i in session.get_inputs()]
    feeds = []
    for query in queries:
        encoded = dense.tokenizer([query], truncation=True, max_length=dense.max_length, return_tensors="np")
        feeds.append({name: np.asarray(encoded[name], dtype=np.int64) for name in names})
    for feed in feeds[:5]:
        session.run(None, feed)
    start = time.process_time()
    for query, feed in zip(queries, feeds, strict=True):
        session.run(None, feed)
        bm25.encode_queries([query])
    return (time.process_time() - start) * 1000 / len(queries)


# ---- hand-written service code ----------------------------------------------------------------------
def milvus_handwritten(client: Any, collection: str, embed: Any, bm25: BM25Encoder, k: int, window: int) -> Callable:
    from pymilvus import AnnSearchRequest, RRFRanker

    def search(query: str) -> list[str]:
        dense = next(iter(embed.query_embed([query])))
        sparse = bm25.encode_queries([query]).sparse[0]
        requests = [
            AnnSearchRequest(data=[dense], anns_field="dense", param={"metric_type": "IP"}, limit=window),
            AnnSearchRequest(
                data=[dict(zip(sparse.indices.tolist(), sparse.values.tolist(), strict=True))],
                anns_field="sparse",
                param={"metric_type": "IP"},
                limit=window,
            ),
        ]
        hits = client.hybrid_search(collection, requests, RRFRanker(RRF_K), limit=k, output_fields=["text", "metadata"])
        return [str(h["id"]) for h in hits[0]]

    return search


def es_handwritten(client: Any, index: str, embed: Any, bm25: BM25Encoder, k: int, window: int) -> Callable:
    def search(query: str) -> list[str]:
        dense = next(iter(embed.query_embed([query])))
        sparse = bm25.encode_queries([query]).sparse[0]
        should = [
            {"rank_feature": {"field": f"sparse.{i}", "linear": {}, "boost": w}}
            for i, w in zip(sparse.indices.tolist(), sparse.values.tolist(), strict=True)
        ]
        source = ["id", "text", "metadata"]
        knn = {"field": "dense", "query_vector": dense.tolist(), "k": window, "num_candidates": max(10 * window, 100)}
        searches = [
            {"index": index},
            {"knn": knn, "size": window, "_source": source},
            {"index": index},
            {"query": {"bool": {"should": should, "minimum_should_match": 1}}, "size": window, "_source": source},
        ]
        responses = client.msearch(searches=searches)["responses"]
        scores: dict[str, float] = {}
        for response in responses:
            for rank, hit in enumerate(response["hits"]["hits"], start=1):
                scores[hit["_id"]] = scores.get(hit["_id"], 0.0) + 1.0 / (RRF_K + rank)
        return sorted(scores, key=lambda i: (-scores[i], i))[:k]

    return search


# ---- closed-loop load ----------------------------------------------------------------------------------
GIVEN_OURS = "floor: vecbridge threads, query vectors given"
GIVEN_HAND = "floor: hand-written, query vectors given"
ENCODING_FLOOR: list[float] = []  # CPU ms per query (``encoding_floor``), once measured
BURNERS: set[int] = set()  # pids of the --burn processes, left out of the CPU accounting


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process, all threads; CPU seconds of its child processes now alive: the
    store server), user + system. Under load, CPU per request is steadier than wall time."""
    import psutil

    me = psutil.Process()
    own = sum(me.cpu_times()[:2])
    store = 0.0
    for child in me.children(recursive=True):
        if child.pid in BURNERS:
            continue
        try:
            store += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return own, store


def summary(latencies: list[float], wall: float, cpu_before: tuple[float, float]) -> dict[str, float]:
    ms = np.asarray(latencies) * 1000.0
    own, store = (after - before for after, before in zip(cpu_seconds(), cpu_before, strict=True))
    return {
        "qps": len(latencies) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "client_cpu_ms": own * 1000 / len(latencies),
        "store_cpu_ms": store * 1000 / len(latencies),
    }


def run_threads(call: Callable[[str], Any], queries: list[str], workers: int, requests: int) -> dict[str, float]:
    """``requests`` calls from a pool of ``workers`` threads, each taking the next query until none is left."""
    counter, latencies = itertools.count(), []

    def worker() -> None:
        while (i := next(counter)) < requests:
            start = time.perf_counter()
            call(queries[i % len(queries)])
            latencies.append(time.perf_counter() - start)

    with ThreadPoolExecutor(workers) as pool:
        cpu, start = cpu_seconds(), time.perf_counter()
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
        wall = time.perf_counter() - start
    return summary(latencies, wall, cpu)


async def run_tasks(
    call: Callable[[str], Awaitable[Any]], queries: list[str], tasks: int, requests: int
) -> dict[str, float]:
    """``run_threads`` with ``tasks`` asyncio tasks."""
    counter, latencies = itertools.count(), []

    async def task() -> None:
        while (i := next(counter)) < requests:
            start = time.perf_counter()
            await call(queries[i % len(queries)])
            latencies.append(time.perf_counter() - start)

    cpu, start = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(task() for _ in range(tasks)))
    return summary(latencies, time.perf_counter() - start, cpu)


# ---- stores ---------------------------------------------------------------------------------------------
def open_store(store: str, stack: ExitStack, workdir: Path) -> tuple[Any, Any, Any]:
    """(sync connector, async connector factory, raw client) on a fresh store."""
    if store == "milvus":
        from pymilvus import MilvusClient

        from vecbridge.connectors.milvus import AsyncMilvusConnector, MilvusConnector
        from vecbridge.testing.milvus_server import MilvusLiteServer

        server = stack.enter_context(MilvusLiteServer(workdir / "concurrency.db"))
        return MilvusConnector(server.uri), lambda: AsyncMilvusConnector(server.uri), MilvusClient(uri=server.uri)
    from elasticsearch import Elasticsearch

    from vecbridge.connectors.elasticsearch import AsyncElasticsearchConnector, ElasticsearchConnector
    from vecbridge.testing.es_emulator import noida_elasticsearch

    (workdir / "es").mkdir()
    url = stack.enter_context(noida_elasticsearch(workdir / "es"))
    return (
        ElasticsearchConnector(url=url),
        lambda: AsyncElasticsearchConnector(url=url),
        Elasticsearch(url, request_timeout=60, connections_per_node=64),
    )


def overlap(a: list[str], b: list[str]) -> float:
    return len(set(a) & set(b)) / max(len(a), 1)


def bench_store(store: str, args: argparse.Namespace, docs: list[Document], queries: list[str], enc: dict) -> dict:
    """Every variant at every concurrency on ``store``: per (concurrency, variant) the per-round metrics."""
    k, window = args.k, args.window
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-conc-")))
        connector, async_factory, client = open_store(store, stack, workdir)
        name = "concurrency"
        index = HybridIndex.create(connector, name, dense=enc["dense"], sparse=enc["bm25"])
        stack.callback(index.close)
        alone = HybridIndex(connector, index.spec, list(index.retrievers.values()), batch_queries=False)
        stack.callback(alone.close)
        fill(index, docs, args.cache)
        if store == "es":
            client.indices.refresh(index=name)
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        async_connector = async_factory()
        aindex = loop.run_until_complete(
            AsyncHybridIndex.open(async_connector, index.spec, list(index.retrievers.values()))
        )
        stack.callback(lambda: loop.run_until_complete(async_connector.close()))
        hand = milvus_handwritten if store == "milvus" else es_handwritten

        def ours(query: str) -> list[str]:
            return [h.id for h in index.search(query, k=k, window=window)]

        def ours_alone(query: str) -> list[str]:
            return [h.id for h in alone.search(query, k=k, window=window)]

        def ours_native(query: str) -> list[str]:
            return [h.id for h in index.search(query, k=k, window=window, native=True)]

        async def ours_async(query: str) -> list[str]:
            return [h.id for h in await aindex.search(query, k=k, window=window)]

        calls: dict[str, Callable[[str], Any]] = {"vecbridge threads": ours}
        if not args.skip_unbatched:
            calls["vecbridge threads, batch_queries=False"] = ours_alone
        if args.native and store == "milvus":  # the ES emulator has no server-side RRF
            calls["vecbridge threads, native=True"] = ours_native
        for label, embed in enc["fastembed"].items():
            calls[f"hand-written fastembed {label}"] = hand(client, name, embed, enc["bm25"], k, window)
        if args.floors:  # the same searches with the query vectors looked up: what is left besides encoding
            lookup = enc["lookup"]
            given = HybridIndex(
                connector,
                index.spec,
                [
                    Retriever("dense", lookup, RetrieverKind.DENSE, "dense"),
                    Retriever("sparse", lookup, RetrieverKind.SPARSE, "sparse"),
                ],
            )
            stack.callback(given.close)
            calls[GIVEN_OURS] = lambda query: [h.id for h in given.search(query, k=k, window=window)]
            calls[GIVEN_HAND] = hand(client, name, lookup, lookup, k, window)

        sample = queries[:20]  # same answers on both sides (RRF over the same two lists)
        checks = {
            label: statistics.mean(overlap(ours(q), call(q)) for q in sample)
            for label, call in calls.items()
            if label.startswith("hand-written")
        }
        checks["vecbridge async"] = statistics.mean(
            overlap(ours(q), loop.run_until_complete(ours_async(q))) for q in sample
        )
        print(f"[{store}] top-{k} overlap with vecbridge threads over {len(sample)} queries: {checks}", flush=True)
        for call in calls.values():  # warm-up: sessions, connections
            run_threads(call, queries, 4, 16)
        loop.run_until_complete(run_tasks(ours_async, queries, 4, 16))

        requests = args.requests if store == "milvus" else args.es_requests
        per_concurrency = {}
        for c in args.concurrency:
            variants: dict[str, Callable[[int], dict]] = {
                f"{label} ({c} threads)": (lambda _r, call=call: run_threads(call, queries, c, requests))
                for label, call in calls.items()
            }
            variants[f"vecbridge async ({c} tasks)"] = lambda _r: loop.run_until_complete(
                run_tasks(ours_async, queries, c, requests)
            )
            per_concurrency[c] = rounds_of(variants, args.rounds)
            print(table(store, c, per_concurrency[c], args, requests), flush=True)
        return {"overlap_top_k": checks, "concurrency": per_concurrency}


def rounds_of(variants: dict[str, Callable[[int], dict]], rounds: int) -> dict[str, list[dict]]:
    """Each variant once per round (order reversed every other round); per variant its per-round metrics."""
    runs: dict[str, list[dict]] = {name: [] for name in variants}

    def runner(name: str) -> Callable[[int], float]:
        def run(rnd: int) -> float:
            metrics = variants[name](rnd)
            runs[name].append({**metrics, "load1": machine_info()["load"][0]})
            return metrics["qps"]

        return run

    interleaved_rounds({name: runner(name) for name in variants}, rounds)
    return runs


def label(args: argparse.Namespace) -> str:
    return f"OVERSUBSCRIBED ({args.burn} extra CPU-bound processes)" if args.burn else "no extra load"


def table(store: str, c: int, runs: dict[str, list[dict]], args: argparse.Namespace, requests: int) -> str:
    store_name = "Milvus Lite server" if store == "milvus" else "noida-db Elasticsearch emulator"
    base = next(name for name in runs if name.startswith("hand-written fastembed int8"))
    lines = [
        "",
        f"{store_name}, {c} concurrent clients, {requests} hybrid searches with query encoding per run, "
        f"n={args.n}, {args.rounds} interleaved rounds, {label(args)}",
        machine_line(),
        "",
        "| variant | QPS, median (range) | p50 ms | p99 ms | QPS vs fastembed int8 | CPU ms/request: client + store |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, values in runs.items():
        qps = [v["qps"] for v in values]
        ratios = [v["qps"] / b["qps"] for v, b in zip(values, runs[base], strict=True)]
        lines.append(
            f"| {name} | {median_range(qps, '{:.1f}')} | {median_range([v['p50_ms'] for v in values], '{:.0f}')} | "
            f"{median_range([v['p99_ms'] for v in values], '{:.0f}')} | {median_range(ratios, '{:.2f}')}x | "
            f"{statistics.median(v['client_cpu_ms'] for v in values):.1f} + "
            f"{statistics.median(v['store_cpu_ms'] for v in values):.1f} |"
        )
    if any(name.startswith(GIVEN_OURS) for name in runs) and ENCODING_FLOOR:
        lines += ["", bound_line(runs, base)]
    return "\n".join(lines)


def cpu_per_request(run: dict) -> float:
    return run["client_cpu_ms"] + run["store_cpu_ms"]


def bound_line(runs: dict[str, list[dict]], base: str) -> str:
    """The most vecbridge could reach while the cores are saturated (QPS ~ 1 / CPU per request): the
    hand-written CPU per request over vecbridge's without encoding plus the encoding floor, per round."""
    floor = ENCODING_FLOOR[0]
    bounds = [
        cpu_per_request(hand) / (cpu_per_request(given) + floor)
        for hand, given in zip(runs[base], next(v for n, v in runs.items() if n.startswith(GIVEN_OURS)), strict=True)
    ]
    return (
        f"Bound: encoding floor {floor:.1f} CPU ms/query (int8 graph, one query per run, one thread, + BM25); "
        f"vecbridge without encoding + that floor = at most {median_range(bounds, '{:.2f}')}x the QPS of "
        f"fastembed int8 while the cores are saturated."
    )


def burners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep one core busy (the oversubscribed case)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    BURNERS.update(p.pid for p in procs)
    return procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--n", type=int, default=5000, help="SciFact documents in the index")
    parser.add_argument("--requests", type=int, default=400, help="searches per run on Milvus")
    parser.add_argument("--es-requests", type=int, default=128, help="searches per run on the ES emulator")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--stores", nargs="+", choices=["milvus", "es"], default=["milvus", "es"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--max-length", type=int, default=256, help="tokens, both sides")
    parser.add_argument("--fastembed", nargs="*", choices=["int8", "fp32"], default=["int8", "fp32"])
    parser.add_argument("--skip-unbatched", action="store_true", help="leave out batch_queries=False")
    parser.add_argument("--native", action=argparse.BooleanOptionalAction, default=True, help="vecbridge native=True")
    parser.add_argument(
        "--floors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run both sides with the query vectors given, and measure the encoding floor",
    )
    parser.add_argument("--burn", type=int, default=0, help="extra CPU-bound processes during the rounds")
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the corpus's dense vectors")
    parser.add_argument("--name", default=None, help="results/<name>.json (default bench_concurrency[_burn])")
    args = parser.parse_args()
    if "int8" not in args.fastembed:
        parser.error("--fastembed must include int8 (the ratios are taken against it)")

    docs, queries = read_scifact(args.data, args.n)
    dense = load_encoder(MODEL, backend="onnx", quantize="int8", max_length=args.max_length)
    bm25 = BM25Encoder().fit([d.text for d in docs])
    workdir = Path(tempfile.mkdtemp(prefix="bench-conc-fastembed-"))
    graphs = {"int8": dense.onnx_path}
    if "fp32" in args.fastembed:
        graphs["fp32"] = load_encoder(MODEL, backend="onnx", max_length=args.max_length).onnx_path
    embeds = {
        f"{key} ({'vecbridge int8 graph' if key == 'int8' else 'fp32 graph'})": load_fastembed(
            fastembed_folder(graphs[key], workdir, key), args.max_length
        )
        for key in args.fastembed
    }
    enc = {"dense": dense, "bm25": bm25, "fastembed": embeds}
    floors: list[float] = []
    if args.floors:
        q_dense, q_sparse = dense.encode_queries(queries).dense, bm25.encode_queries(queries).sparse
        assert q_dense is not None and q_sparse is not None
        enc["lookup"] = PrecomputedEncoder(
            dict(zip(queries, q_dense, strict=True)), dict(zip(queries, q_sparse, strict=True)), q_dense.shape[1]
        )
        floors.append(encoding_floor(dense, bm25, queries[:200]))
        ENCODING_FLOOR.append(floors[0])

    burning = burners(args.burn)
    results: dict[str, Any] = {
        "case": label(args),
        "n": args.n,
        "requests": {"milvus": args.requests, "es": args.es_requests},
        "stores": {},
    }
    try:
        for store in args.stores:
            results["stores"][store] = bench_store(store, args, docs, queries, enc)
        if args.floors:  # before and after the rounds: the figure the bounds use is their mean
            floors.append(encoding_floor(dense, bm25, queries[:200]))
            results["encoding_floor_cpu_ms"] = floors
            ENCODING_FLOOR[:] = [statistics.mean(floors)]
    finally:
        for proc in burning:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    for store, result in results["stores"].items():
        requests = args.requests if store == "milvus" else args.es_requests
        for c, runs in result["concurrency"].items():
            print(table(store, c, runs, args, requests))
    name = args.name or ("bench_concurrency_burn" if args.burn else "bench_concurrency")
    print(f"\nwrote {write_results(name, results, args.rounds)}")


if __name__ == "__main__":
    main()
