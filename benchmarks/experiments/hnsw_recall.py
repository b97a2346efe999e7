"""Recall@10 of an HNSW graph vs exact (FLAT) search on SciFact MiniLM vectors — an hnswlib PROXY.

    PYTHONPATH=. python benchmarks/experiments/hnsw_recall.py [--data ../shared/data/scifact] [--cache-dir ~/.cache/vecbridge/hnsw_recall]
        [--ef 10,16,32,64,128] [--m 16] [--ef-construction 200] [--seed 100]

This is NOT a Milvus measurement: no engine reachable here builds a Milvus HNSW index (Milvus Lite
2.5.1 refuses it, no Milvus server). It builds an ``hnswlib`` graph (Milvus's knowhere HNSW derives
from hnswlib) with the M / efConstruction vecbridge sends to Milvus by default
(``vecbridge.connectors.milvus.schema.HNSW_M`` / ``HNSW_EF_CONSTRUCTION``), metric IP, and compares its top-10
for each search ``ef`` with exact inner-product top-10 (what a FLAT/IP field returns).

Vectors: all-MiniLM-L6-v2 on ONNX int8 (``load_encoder(..., backend="onnx", quantize="int8")``,
the quantization VECBRIDGE_ONNX_QUANTIZE=int8 selects), normalized by the encoder. Corpus and query embeddings
are cached as .npy under ``--cache-dir`` so reruns only rebuild the graph. hnswlib is not a vecbridge
dependency: ``pip install hnswlib`` to run this (``--backend faiss``: faiss-cpu's IndexHNSWFlat instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from vecbridge.connectors.milvus.schema import HNSW_EF_CONSTRUCTION, HNSW_M
from vecbridge.evaluation.beir import load_beir

K = 10


def _embeddings(data_dir: Path, cache_dir: Path, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(corpus, queries) dense float32 matrices, from the cache when present."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    docs_path, queries_path = cache_dir / f"{model}-int8-corpus.npy", cache_dir / f"{model}-int8-queries.npy"
    if docs_path.is_file() and queries_path.is_file():
        return np.load(docs_path), np.load(queries_path)
    from vecbridge import load_encoder

    data = load_beir(data_dir, "test")
    encoder = load_encoder(model, backend="onnx", quantize="int8")
    start = time.perf_counter()
    docs = np.asarray(encoder.encode_documents([d.text for d in data.corpus.values()]).dense, dtype=np.float32)
    queries = np.asarray(encoder.encode_queries(list(data.queries.values())).dense, dtype=np.float32)
    print(
        f"encoded {len(docs)} docs + {len(queries)} queries in {time.perf_counter() - start:.0f} s "
        f"(taken under load, load average {os.getloadavg()})",
        flush=True,
    )
    np.save(docs_path, docs)
    np.save(queries_path, queries)
    return docs, queries


def exact_top(docs: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Exact inner-product top-k row indices (FLAT/IP)."""
    scores = queries @ docs.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per-query |approx ∩ exact| / k."""
    return np.array(
        [len(set(a.tolist()) & set(e.tolist())) / exact.shape[1] for a, e in zip(approx, exact, strict=True)]
    )


def _build(backend: str, docs: np.ndarray, m: int, ef_construction: int, seed: int) -> tuple[Any, str]:
    """(search(queries, ef) -> top-K row indices, library label) over an HNSW graph of ``docs``."""
    if backend in ("auto", "hnswlib"):
        try:
            import hnswlib  # type: ignore[import-not-found]
        except ImportError:
            if backend == "hnswlib":
                sys.exit("hnswlib is not installed (it is not a vecbridge dependency): pip install hnswlib")
        else:
            graph = hnswlib.Index(space="ip", dim=docs.shape[1])
            graph.init_index(max_elements=len(docs), M=m, ef_construction=ef_construction, random_seed=seed)
            graph.set_num_threads(1)
            graph.add_items(docs, np.arange(len(docs)))

            def search_hnswlib(queries: np.ndarray, ef: int) -> np.ndarray:
                graph.set_ef(ef)
                return graph.knn_query(queries, k=K)[0]

            return search_hnswlib, f"hnswlib {version('hnswlib')}, random_seed={seed}"
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("neither hnswlib nor faiss-cpu is installed (neither is a vecbridge dependency): pip install hnswlib")
    faiss.omp_set_num_threads(1)
    flat_graph = faiss.IndexHNSWFlat(docs.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    flat_graph.hnsw.efConstruction = ef_construction
    flat_graph.add(np.ascontiguousarray(docs))

    def search_faiss(queries: np.ndarray, ef: int) -> np.ndarray:
        flat_graph.hnsw.efSearch = ef
        return flat_graph.search(np.ascontiguousarray(queries), K)[1]

    return search_faiss, f"faiss-cpu {faiss.__version__} IndexHNSWFlat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache/vecbridge/hnsw_recall")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--m", type=int, default=HNSW_M)
    parser.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION)
    parser.add_argument("--ef", default="10,16,32,64,128")
    parser.add_argument("--seed", type=int, default=100, help="hnswlib random_seed (level assignment)")
    parser.add_argument(
        "--backend",
        choices=("auto", "hnswlib", "faiss"),
        default="auto",
        help="auto: hnswlib, else faiss-cpu's IndexHNSWFlat",
    )
    parser.add_argument("--encode-only", action="store_true", help="fill the embedding cache and stop")
    args = parser.parse_args()
    docs, queries = _embeddings(args.data, args.cache_dir, args.model)
    if args.encode_only:
        return
    exact = exact_top(docs, queries)
    index, library = _build(args.backend, docs, args.m, args.ef_construction, args.seed)
    print(
        f"PROXY ({library}, not Milvus): SciFact test, {len(docs)} docs, "
        f"{len(queries)} queries, {args.model} ONNX int8, dim {docs.shape[1]}, inner product, "
        f"M={args.m}, efConstruction={args.ef_construction}; exact top-{K} = FLAT/IP"
    )
    print(f"| ef | recall@{K} mean | recall@{K} min | queries < 1.0 |\n|---:|---:|---:|---:|")
    for ef in (int(v) for v in args.ef.split(",")):
        if ef < K:
            print(f"| {ef} | skipped: ef < k={K} (vecbridge raises it to k) | | |")
            continue
        labels = index(queries, ef)
        recall = recall_at_k(labels, exact)
        print(f"| {ef} | {recall.mean():.4f} | {recall.min():.2f} | {int((recall < 1).sum())} |", flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
