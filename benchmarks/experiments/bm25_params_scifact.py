"""BM25 nDCG@10 on a BEIR split for a grid of analyzers and k1 / b (vecbridge's BM25, scipy scoring, ranx).

    PYTHONPATH=. python benchmarks/experiments/bm25_params_scifact.py --split train [--data ../shared/data/scifact]

Exact BM25 over the whole corpus (no store involved): what ``vecbridge eval --retrievers bm25``
measures through Milvus, minus the store, for choosing parameters on a train split quickly.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from ranx import Qrels, Run, evaluate

from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.evaluation.beir import load_beir


def matrix(vectors, width: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(vectors)), [len(v.indices) for v in vectors])
    cols = np.concatenate([v.indices for v in vectors])
    vals = np.concatenate([v.values for v in vectors])
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(vectors), width))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--analyzers", default="english")
    parser.add_argument("--k1", default="0.9,1.2,1.5,2.0")
    parser.add_argument("--b", default="0.4,0.75,0.9")
    args = parser.parse_args()
    ds = load_beir(args.data, args.split)
    ids, texts = list(ds.corpus), [d.text for d in ds.corpus.values()]
    qids = list(ds.queries)
    qrels = Qrels({q: dict(r) for q, r in ds.qrels.items()})
    print(f"{ds.name} {args.split}: {len(ids)} documents, {len(qids)} queries")
    grid = itertools.product(args.analyzers.split(","), map(float, args.k1.split(",")), map(float, args.b.split(",")))
    for analyzer, k1, b in grid:
        encoder = BM25Encoder(k1=k1, b=b, analyzer=analyzer).fit(texts)
        docs = matrix(encoder.encode_documents(texts).sparse, len(encoder.vocab))
        queries = matrix(encoder.encode_queries([ds.queries[q] for q in qids]).sparse, len(encoder.vocab))
        scores = (queries @ docs.T).toarray()
        run = {}
        for row, q in enumerate(qids):
            top = np.argsort(-scores[row])[:100]
            run[q] = {ids[j]: float(scores[row, j]) for j in top if scores[row, j] > 0}
        print(f"{analyzer:8s} k1={k1:<4} b={b:<5} nDCG@10={evaluate(qrels, Run(run), 'ndcg@10'):.4f}", flush=True)


if __name__ == "__main__":
    main()
