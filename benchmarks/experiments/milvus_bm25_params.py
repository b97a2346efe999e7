"""Does Milvus Lite's full-text BM25 honour the ``bm25_k1`` / ``bm25_b`` index params? (4-document probe)

    PYTHONPATH=. python benchmarks/experiments/milvus_bm25_params.py [--db /tmp/milvus_bm25_params.db]

Builds one collection per (k1, b) with ``Function(type=BM25)`` on an ``english``-analyzed VARCHAR field
and a SPARSE_INVERTED_INDEX (metric BM25), searches "insulin" and prints the scores. Measured on
Milvus Lite 2.5.1 / pymilvus 2.5.18 (docs/benchmarks_eval.md): k1 and b change the scores, except
``bm25_b=0.0``, which scores exactly like the default 0.75 (a zero value reads as "unset").
"""

from __future__ import annotations

import argparse

import milvus_lite
import pymilvus
from pymilvus import DataType, Function, FunctionType, MilvusClient

DOCS = [
    "insulin regulates blood glucose",
    "insulin insulin insulin hormone produced by the pancreas in the body of mammals",
    "glucose is a sugar",
    "the pancreas produces insulin and glucagon",
]
SETTINGS = [(1.2, 0.75), (1.5, 0.75), (1.2, 0.3), (1.2, 0.0001), (1.2, 0.0)]


def scores(client: MilvusClient, k1: float, b: float) -> list[tuple[int, float]]:
    name = f"bm25_{k1}_{b}".replace(".", "_")
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field(
        "text", DataType.VARCHAR, max_length=1000, enable_analyzer=True, analyzer_params={"type": "english"}
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    params = client.prepare_index_params()
    params.add_index(
        "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": k1, "bm25_b": b}
    )
    client.create_collection(name, schema=schema, index_params=params)
    client.insert(name, [{"id": i, "text": t} for i, t in enumerate(DOCS)])
    hits = client.search(name, ["insulin"], anns_field="sparse", limit=4, search_params={"metric_type": "BM25"})
    return [(h["id"], round(h["distance"], 4)) for h in hits[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/milvus_bm25_params.db")
    args = parser.parse_args()
    print(f"milvus_lite {milvus_lite.__version__}, pymilvus {pymilvus.__version__}")
    client = MilvusClient(args.db)
    try:
        for k1, b in SETTINGS:
            print(f"k1={k1:<4} b={b:<6}", scores(client, k1, b))
    finally:
        client.close()


if __name__ == "__main__":
    main()
