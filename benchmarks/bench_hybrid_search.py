"""Hybrid search latency: vecbridge vs pymilvus ``hybrid_search`` (given vectors) and vs a hand-written
sentence-transformers + ``MilvusClient`` pipeline (query encoding included), on Milvus Lite.

    PYTHONPATH=. python benchmarks/bench_hybrid_search.py --n 5183 --queries 200 --rounds 8
    PYTHONPATH=. python benchmarks/bench_hybrid_search.py --n 300 --queries 20 --rounds 2   # smoke

Corpus: the first ``--n`` SciFact documents (title + text), dense all-MiniLM-L6-v2 + BM25, one
collection (FLAT/IP dense, sparse IP) shared by every variant, so only the client side differs.
Variants run once per round, order reversed every other round; a round's value is the p50 over the
queries; tables give the median over rounds and the range. ``load average`` is printed beside each table.

Given vectors: query vectors are precomputed; vecbridge's ``HybridIndex`` (client-side RRF, the
retrievers' store calls concurrent, and the same with ``concurrent=False``) vs one server-side
``client.hybrid_search`` (RRFRanker(60), same window). The retrievers ask for ids and scores only and
the fused top k's text and metadata come from one ``get`` (``late_content``, the default); the
variant "content from every retriever" is the earlier path (``late_content=False``: text and
metadata of the whole window from each retriever); ``native=True`` is Milvus's own RRF in one
``hybrid_search`` (exact ties re-ordered by id; hits without per-retriever ranks), and the two bare
pymilvus retriever searches show the floor of any client-side fusion on this store, the same two
searches asking for text and metadata the floor of content from every retriever, and the two
ids-only searches followed by the RRF of their ids and one ``query`` for the top k's text and
metadata the floor of late content. (``MilvusConnector`` reads search answers by column, without
pymilvus' per-row dicts, so its searches can come below the pymilvus floors' parsing.) The machine line
follows the table; the given-vectors table is also written to
``benchmarks/results/bench_hybrid_search_given.json`` (``write_results``). With encoding: ``index.search(text)`` vs
``SentenceTransformer.encode`` + BM25 query vector + ``client.hybrid_search``, and vs the same with fastembed's
``query_embed`` on an fp32 graph and on vecbridge's own int8 graph (``fastembed_encoded_variants``; skipped
when fastembed is not installed or ``--model`` is not the bundled MiniLM). Two floors in the same rounds
(ONNX encoders only): the encoder's graph alone on the query (tokenized before timing, no pooling, one
default session), and that run followed by one ``client.hybrid_search`` with the looked-up vectors: the
least any client does with this graph and store for one query; the bound line prints each anchor's
latency over that floor, the least share of it that any client could reach here.

``--given-only`` skips the encoding-included table; ``--cache DIR`` keeps the corpus's dense vectors
(per model, backend and ``--n``) so a rerun does not re-encode the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.timing import interleaved_rounds, latencies_ms, machine_line, median_range, write_results
from vecbridge import HybridIndex, Retriever
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.encoders import OutputKind, load_encoder
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.loading import resolve_model_path
from vecbridge.fusion import rrf_ids
from vecbridge.schemas import Document, Embeddings

OUTPUT = ["text", "metadata"]  # what MilvusConnector asks for


class PrecomputedEncoder:
    """Encoder stand-in: returns vectors looked up by text, so no model time is counted."""

    name = "precomputed"
    outputs = frozenset({OutputKind.DENSE, OutputKind.SPARSE})

    def __init__(self, dense: dict[str, np.ndarray], sparse: dict[str, object], dim: int) -> None:
        self.dense, self.sparse, self.dense_dim, self.sparse_vocab_size = dense, sparse, dim, None

    def encode_queries(self, texts: list[str]) -> Embeddings:
        return Embeddings(dense=np.stack([self.dense[t] for t in texts]), sparse=[self.sparse[t] for t in texts])

    encode_documents = encode_queries

    def query_embed(self, texts: list[str]) -> list[np.ndarray]:
        """fastembed's call, for hand-written service code given looked-up vectors."""
        return [self.dense[t] for t in texts]


def read_scifact(data: Path, n: int, n_queries: int) -> tuple[list[Document], list[str]]:
    docs, queries = [], []
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            docs.append(Document(id=str(row["_id"]), text=f"{row.get('title', '')}\n{row['text']}"))
            if len(docs) >= n:
                break
    with (data / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            queries.append(json.loads(line)["text"])
            if len(queries) >= n_queries:
                break
    return docs, queries


def upsert_cached(index: HybridIndex, docs: list[Document], path: Path) -> object:
    """``index.upsert(docs)`` with the dense vectors read from ``path`` when there (else written there)."""
    from vecbridge.ingest import IngestReport
    from vecbridge.schemas import IndexBatch

    sparse = index.retrievers["sparse"].encoder.encode_documents([d.text for d in docs]).sparse
    if path.is_file():
        dense = np.load(path)
    else:
        dense = index.retrievers["dense"].encoder.encode_documents([d.text for d in docs]).dense
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, dense)
    written = 0
    for start in range(0, len(docs), 1000):
        rows = slice(start, start + 1000)
        written += index.connector.upsert(
            index.spec.name, IndexBatch(documents=docs[rows], dense=dense[rows], sparse={"sparse": sparse[rows]})
        )
    return IngestReport(read=len(docs), written=written)


def p50(fn, queries: list) -> float:
    return float(np.percentile(latencies_ms(fn, queries, warmup=min(5, len(queries))), 50))


def table(title: str, values: dict[str, list[float]], base: str) -> str:
    lines = [
        f"{title}  (load average {tuple(round(x, 2) for x in os.getloadavg())})",
        "",
        f"| variant | p50 ms, median (range) over rounds | ratio to {base}, median (range) |",
        "|---|---:|---:|",
    ]
    for name, vals in values.items():
        ratios = [v / b for v, b in zip(vals, values[base], strict=True)]
        lines.append(f"| {name} | {median_range(vals)} | {median_range(ratios)} |")
    return "\n".join(lines)


def fetch_fused(client: object, pair: list, k: int) -> object:
    """What late content adds to the two bare searches: RRF of their ids, then one ``query`` for the
    top ``k``'s text and metadata (the floor of a client-side fusion that returns content)."""
    lists = [([str(h["id"]) for h in answer[0]], 1.0) for answer in pair]
    ids = rrf_ids(lists, 60.0, len(lists[0][0]), k)
    return client.query("bench", filter=f"id in {json.dumps(ids)}", output_fields=["id", *OUTPUT])  # type: ignore[attr-defined]


def write_given(values: dict[str, list[float]], base: str, args: argparse.Namespace, n_docs: int) -> None:
    """``benchmarks/results/bench_hybrid_search_given.json``: per variant the per-round p50s and their ratio to ``base``."""
    results = {
        "n": n_docs,
        "queries": args.queries,
        "k": args.k,
        "window": args.window,
        "base": base,
        "variants": {
            name: {
                "p50_ms_per_round": [round(v, 4) for v in vals],
                "p50_ms_median": round(statistics.median(vals), 4),
                "ratio_median": round(statistics.median(v / b for v, b in zip(vals, values[base], strict=True)), 4),
                "ratio_range": [
                    round(min(v / b for v, b in zip(vals, values[base], strict=True)), 4),
                    round(max(v / b for v, b in zip(vals, values[base], strict=True)), 4),
                ],
            }
            for name, vals in values.items()
        },
    }
    print(f"results: {write_results('bench_hybrid_search_given', results, args.rounds)}")


def report_encoded(values: dict[str, list[float]], rounds: int, **setup: object) -> None:
    """The encoding-included table against each anchor, the machine line, and
    ``results/bench_hybrid_search_encoded.json``."""
    ours = next(name for name in values if name.startswith("vecbridge"))
    for base in (name for name in values if name not in (ours, GRAPH_ALONE, FLOOR)):
        ratios = [v / b for v, b in zip(values[ours], values[base], strict=True)]
        print(f"{ours} / {base}: p50 ratio {median_range(ratios)}")
        if FLOOR in values:
            floor = [f / b for f, b in zip(values[FLOOR], values[base], strict=True)]
            print(f"  bound: no client on this graph and store goes below {median_range(floor)} of {base}")
    print(machine_line())
    per_round = {name: {"p50_ms": vals, "median_p50_ms": statistics.median(vals)} for name, vals in values.items()}
    print(f"results: {write_results('bench_hybrid_search_encoded', {**setup, 'variants': per_round}, rounds)}")


def fastembed_encoded_variants(model: str, queries: list[str], bm25, raw_hybrid, workdir: Path) -> dict:
    """The fastembed anchors of the encoding-included table: ``query_embed`` (fp32 graph; vecbridge's own
    int8 graph) + BM25 query vector + ``client.hybrid_search``, one query at a time, as a service would."""
    from benchmarks.fastembed_anchor import MODEL, load_fastembed

    try:
        import fastembed  # noqa: F401
    except ImportError:
        print("fastembed is not installed: no fastembed anchor")
        return {}
    if model != MODEL:
        print(f"--model {model}: the fastembed anchor is {MODEL} only")
        return {}
    rows = list(range(len(queries)))

    def variant(graph: str):
        embedder = load_fastembed(graph, workdir)

        def one(i: int) -> object:
            vector = next(iter(embedder.query_embed(queries[i])))
            sparse = bm25.encode_queries([queries[i]]).sparse[0]
            return raw_hybrid(vector, dict(zip(sparse.indices.tolist(), sparse.values.tolist(), strict=True)))

        return lambda _: p50(one, rows)

    return {
        "fastembed fp32 graph + MilvusClient.hybrid_search": variant("fp32"),
        "fastembed on vecbridge's int8 graph + MilvusClient.hybrid_search": variant("int8"),
    }


def graph_floor_variants(dense, queries: list[str], raw_hybrid, q_dense, raw_sparse) -> dict:
    """The encoded table's floors: ``dense``'s ONNX graph alone on each pre-tokenized query, and that run
    plus one ``hybrid_search`` with the looked-up vectors (none for a non-ONNX encoder)."""
    from benchmarks.bench_fastembed_encoder import tokenized
    from vecbridge.encoders.onnx_runtime import open_session

    path = getattr(getattr(dense, "model", None), "path", None)
    if path is None:
        return {}
    session = open_session(path)
    names = [i.name for i in session.get_inputs()]
    feeds = [{n: f[n] for n in names} for f in tokenized(dense.tokenizer, queries, dense.max_length, 1)]
    rows = list(range(len(queries)))

    def searched(i: int) -> object:
        session.run(None, feeds[i])
        return raw_hybrid(q_dense[i], raw_sparse[i])

    return {
        GRAPH_ALONE: lambda _: p50(lambda i: session.run(None, feeds[i]), rows),
        FLOOR: lambda _: p50(searched, rows),
    }


GRAPH_ALONE = "the encoder's graph alone (query tokenized before timing, no search)"
FLOOR = "floor: the encoder's graph alone + MilvusClient.hybrid_search (vectors looked up)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--n", type=int, default=5183)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--backend", default="auto", help="vecbridge encoder backend: auto | torch | onnx")
    parser.add_argument(
        "--quantize",
        default="int8",
        choices=["int8", "none"],
        help="onnx graphs: int8 (the Settings default, VECBRIDGE_ONNX_QUANTIZE=auto) or none (fp32)",
    )
    parser.add_argument("--given-only", action="store_true", help="only the given-vectors table")
    parser.add_argument("--cache", type=Path, default=None, help="folder caching the corpus's dense vectors")
    args = parser.parse_args()
    from pymilvus import AnnSearchRequest, RRFRanker
    from sentence_transformers import SentenceTransformer

    docs, queries = read_scifact(args.data, args.n, args.queries)
    int8 = args.quantize == "int8" and args.backend != "torch"
    dense = load_encoder(args.model, backend=args.backend, **({"quantize": "int8"} if int8 else {}))
    bm25 = BM25Encoder().fit([d.text for d in docs])
    workdir = Path(tempfile.mkdtemp(prefix="bench-hybrid-"))
    connector = MilvusConnector(str(workdir / "bench.db"))
    index = HybridIndex.create(connector, "bench", dense=dense, sparse=bm25)
    report = (
        index.upsert(docs)
        if args.cache is None
        else upsert_cached(
            index, docs, args.cache / (f"{args.model}-{args.backend}{'-int8' if int8 else ''}-{len(docs)}.npy")
        )
    )
    assert report.written == len(docs), report
    client = connector.client  # the pymilvus side uses the very same MilvusClient / embedded server
    k, window = args.k, args.window

    q_dense = dense.encode_queries(queries).dense
    q_sparse = bm25.encode_queries(queries).sparse
    table_ = PrecomputedEncoder(
        dict(zip(queries, q_dense, strict=True)), dict(zip(queries, q_sparse, strict=True)), dense.dense_dim
    )
    retrievers = [
        Retriever("dense", table_, OutputKind.DENSE, "dense"),
        Retriever("sparse", table_, OutputKind.SPARSE, "sparse"),
    ]
    given = HybridIndex(connector, index.spec, retrievers)
    given_seq = HybridIndex(connector, index.spec, retrievers, concurrent=False)
    given_inline = HybridIndex(connector, index.spec, retrievers)
    given_inline.late_content = False
    assert given.late_content
    same = [given.search(q, k, window=window) for q in queries] == [
        given_inline.search(q, k, window=window) for q in queries
    ]
    assert same, "late content changed the hits"
    raw_sparse = [dict(zip(v.indices.tolist(), v.values.tolist(), strict=True)) for v in q_sparse]

    def raw_hybrid(dense_vector: np.ndarray, sparse_dict: dict) -> object:
        requests = [
            AnnSearchRequest(data=[dense_vector], anns_field="dense", param={"metric_type": "IP"}, limit=window),
            AnnSearchRequest(data=[sparse_dict], anns_field="sparse", param={"metric_type": "IP"}, limit=window),
        ]
        return client.hybrid_search("bench", requests, RRFRanker(60), limit=k, output_fields=OUTPUT)

    def raw_pair(i: int, output_fields: tuple[str, ...] = ()) -> object:
        """The two retriever searches a client-side fusion needs, ids and scores only (or with
        ``output_fields``), in two threads."""
        calls = [
            pool.submit(
                client.search,
                "bench",
                [q_dense[i]],
                anns_field="dense",
                limit=window + 1,
                search_params={"metric_type": "IP"},
                output_fields=list(output_fields),
            ),
            pool.submit(
                client.search,
                "bench",
                [raw_sparse[i]],
                anns_field="sparse",
                limit=window + 1,
                search_params={"metric_type": "IP"},
                output_fields=list(output_fields),
            ),
        ]
        return [c.result() for c in calls]

    pool = ThreadPoolExecutor(2)
    native_same = sum(
        [h.id for h in given.search(q, k, window=window, native=True)]
        == [h.id for h in given.search(q, k, window=window)]
        for q in queries
    )
    print(f"native=True returns the client-side RRF's ids in order for {native_same}/{len(queries)} queries")
    rows = list(range(len(queries)))
    given_values = interleaved_rounds(
        {
            "pymilvus hybrid_search": lambda _: p50(lambda i: raw_hybrid(q_dense[i], raw_sparse[i]), rows),
            "pymilvus: the 2 retriever searches alone, ids only, 2 threads (no fusion, no content)": lambda _: p50(
                raw_pair, rows
            ),
            "pymilvus: the 2 retriever searches with text and metadata, 2 threads (floor of content from every retriever)": lambda _: (
                p50(lambda i: raw_pair(i, tuple(OUTPUT)), rows)
            ),
            "pymilvus: the 2 retriever searches + RRF + 1 query for the top k's content (floor of late content)": lambda _: (
                p50(lambda i: fetch_fused(client, raw_pair(i), k), rows)
            ),
            "vecbridge native=True (server-side RRF, ties by id)": lambda _: p50(
                lambda i: given.search(queries[i], k, window=window, native=True), rows
            ),
            "vecbridge (concurrent retrievers)": lambda _: p50(
                lambda i: given.search(queries[i], k, window=window), rows
            ),
            "vecbridge (sequential retrievers)": lambda _: p50(
                lambda i: given_seq.search(queries[i], k, window=window), rows
            ),
            "vecbridge (concurrent, content from every retriever)": lambda _: p50(
                lambda i: given_inline.search(queries[i], k, window=window), rows
            ),
        },
        args.rounds,
    )
    print(table("Hybrid search, query vectors given", given_values, "pymilvus hybrid_search"), flush=True)
    print(machine_line(), flush=True)
    write_given(given_values, "pymilvus hybrid_search", args, len(docs))
    pool.shutdown()
    if args.given_only:
        given.close(), given_seq.close(), given_inline.close(), index.close(), connector.close()
        return

    st = SentenceTransformer(str(resolve_model_path(args.model)), device="cpu")

    def hand_written(i: int) -> object:
        vector = st.encode([queries[i]], normalize_embeddings=True, convert_to_numpy=True)[0]
        sparse = bm25.encode_queries([queries[i]]).sparse[0]
        return raw_hybrid(vector, dict(zip(sparse.indices.tolist(), sparse.values.tolist(), strict=True)))

    encoded_values = interleaved_rounds(
        {
            "hand-written (sentence-transformers + MilvusClient.hybrid_search)": lambda _: p50(hand_written, rows),
            **fastembed_encoded_variants(args.model, queries, bm25, raw_hybrid, workdir),
            **graph_floor_variants(dense, queries, raw_hybrid, q_dense, raw_sparse),
            f"vecbridge index.search (encoder {type(dense).__name__})": lambda _: p50(
                lambda i: index.search(queries[i], k, window=window), rows
            ),
        },
        args.rounds,
    )
    given.close(), given_seq.close(), given_inline.close()
    index.close()
    connector.close()

    print(f"n={len(docs)} queries={len(queries)} rounds={args.rounds} k={k} window={window} model={args.model}")
    print()
    print(table("Hybrid search, query vectors given", given_values, "pymilvus hybrid_search"))
    print(machine_line())
    print()
    print(
        table(
            "Hybrid search, query encoding included",
            encoded_values,
            "hand-written (sentence-transformers + MilvusClient.hybrid_search)",
        )
    )
    report_encoded(encoded_values, args.rounds, n=len(docs), queries=len(queries), k=k, window=window)
    print(
        f"\nmedian over all rounds of vecbridge/pymilvus (given): "
        f"{statistics.median(a / b for a, b in zip(given_values['vecbridge (concurrent retrievers)'], given_values['pymilvus hybrid_search'], strict=True)):.3f}"
    )


if __name__ == "__main__":
    main()
