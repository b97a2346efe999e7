"""SciFact nDCG@10 of the same model on torch, ONNX fp32 and ONNX int8 (exact top-100 search in numpy).

    PYTHONPATH=. python benchmarks/eval_onnx_int8.py [--model all-MiniLM-L6-v2] [--splade splade-tiny]
        [--max-docs N] [--limit-queries N] [--backends torch,onnx,onnx-int8]
    PYTHONPATH=. python benchmarks/eval_onnx_int8.py --backends onnx,onnx-int8,fastembed-int8,fastembed

Exact inner-product top-100 over the whole corpus is what a FLAT/IP Milvus field returns, so the
store is left out: only the encoder differs between rows. ``fastembed`` / ``fastembed-int8``: fastembed
(``benchmarks/fastembed_anchor.py``) on vecbridge's fp32 / int8 graph, max length 256 (dense models only). Metrics and qrels come from
``vecbridge.evaluation`` (ranx), as in docs/evaluation.md. Encode times are printed beside the
load average; they are one pass each, not interleaved: quote ``bench_encoders.py`` for speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import machine_line, write_results
from vecbridge.encoders import load_encoder
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.metrics import evaluate, run_from_ids, to_qrels

VARIANTS = {
    "torch": {"backend": "torch", "device": "cpu"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
}


def _top_ids(scores: np.ndarray, doc_ids: list[str], k: int = 100) -> list[list[str]]:
    top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
    out = []
    for row, cand in zip(scores, top, strict=True):
        order = sorted(cand.tolist(), key=lambda j: (-row[j], doc_ids[j]))
        out.append([doc_ids[j] for j in order])
    return out


def _matrix(embeddings, kind: str, vocab: int):
    if kind == "dense":
        return embeddings.dense
    from scipy.sparse import csr_matrix

    rows = embeddings.sparse
    indptr = np.cumsum([0] + [len(v.indices) for v in rows])
    return csr_matrix(
        (np.concatenate([v.values for v in rows]), np.concatenate([v.indices for v in rows]), indptr),
        shape=(len(rows), vocab),
    )


def _encoder(model: str, name: str, threads: int | None):
    if name.startswith("fastembed"):
        from benchmarks.fastembed_anchor import MODEL, FastembedEncoder

        if model != MODEL:
            raise SystemExit(f"{name}: the fastembed anchor is {MODEL} only")
        return FastembedEncoder("int8" if name.endswith("int8") else "fp32", Path(tempfile.mkdtemp()), threads)
    options = dict(VARIANTS[name])
    if options["backend"] == "onnx" and threads:
        options["num_threads"] = threads
    return load_encoder(model, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="dense model ('none' to skip)")
    parser.add_argument("--splade", default="none", help="SPLADE model, e.g. splade-tiny ('none' to skip)")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--max-docs", type=int, default=None)
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="onnx intra-op threads")
    args = parser.parse_args()
    data = load_beir(args.data, "test", limit_queries=args.limit_queries, max_docs=args.max_docs)
    doc_ids = list(data.corpus)
    texts = [data.corpus[d].text for d in doc_ids]
    query_ids = list(data.queries)
    qrels = to_qrels(data.qrels)
    print(f"SciFact test: {len(doc_ids)} docs, {len(query_ids)} queries; {machine_line()}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    print("| model | backend | nDCG@10 | R@100 | doc encode s |\n|---|---|---:|---:|---:|")
    for kind, model in (("dense", args.model), ("sparse", args.splade)):
        if model == "none":
            continue
        base = None
        for name in args.backends.split(","):
            encoder = _encoder(model, name, args.threads)
            start = time.perf_counter()
            docs = encoder.encode_documents(texts)
            seconds = time.perf_counter() - start
            queries = encoder.encode_queries([data.queries[q] for q in query_ids])
            vocab = encoder.sparse_vocab_size or 0
            scores = _matrix(queries, kind, vocab) @ _matrix(docs, kind, vocab).T
            scores = np.asarray(scores.todense() if hasattr(scores, "todense") else scores)
            run = run_from_ids(dict(zip(query_ids, _top_ids(scores, doc_ids), strict=True)), name)
            metrics = evaluate(qrels, run, ("ndcg@10", "recall@100"))
            results.setdefault(model, {})[name] = {**metrics, "doc_encode_s": seconds}
            base = metrics["ndcg@10"] if base is None else base
            delta = f" ({100 * (metrics['ndcg@10'] - base):+.2f} pt)" if name != args.backends.split(",")[0] else ""
            print(
                f"| {model} | {name} | {metrics['ndcg@10']:.4f}{delta} | {metrics['recall@100']:.4f} | {seconds:.1f} |",
                flush=True,
            )
    print(machine_line())
    print(f"results: {write_results('eval_onnx_int8', results, rounds=1)}")


if __name__ == "__main__":
    main()
