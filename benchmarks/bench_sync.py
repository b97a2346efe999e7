"""Incremental sync vs LangChain's indexing API, on one change set of BEIR SciFact.

Start corpus: SciFact less its last 1 % (``--limit`` takes the first N documents for a quick run).
Changed corpus: 1 % of the documents edited (text appended), 1 % deleted, the held-back 1 % added.
Both sides use the same encoders, loaded once: all-MiniLM-L6-v2 int8 ONNX (dense, the CPU default)
and a BM25Encoder fitted on the start corpus (sparse), into a fresh embedded Milvus Lite file:

- ``vecbridge``: ``index.sync(docs, source_key="scifact", cleanup="full")`` (hashes in the store);
- ``langchain``: ``langchain_core.indexing.index(docs, InMemoryRecordManager, VecbridgeVectorStore,
  cleanup="full")`` over vecbridge's own LangChain adapter (hashes in the record manager).

Per side and round: the full first ingest, a re-sync of the unchanged corpus, the sync of the change
set; documents encoded are counted at the index's ``encode_documents``. Rounds alternate the order
(ABBA). The end state of each side is compared with a fresh vecbridge sync of the changed corpus:
(text, metadata less the reserved keys) pairs, and vectors (dense max |diff|; sparse exact).
``os.getloadavg()`` is printed beside the table.

    PYTHONPATH=. python benchmarks/bench_sync.py --rounds 2             # full SciFact
    PYTHONPATH=. python benchmarks/bench_sync.py --rounds 2 --limit 500 # a subset (int8 is slow under load)
    PYTHONPATH=. python benchmarks/bench_sync.py --rounds 2 --dense none # full SciFact, BM25 only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / ".." / "shared" / "data" / "scifact" / "corpus.jsonl"
BATCH = 256
KEY = "scifact"


def change_set(corpus: list[Any]) -> tuple[list[Any], list[Any], dict[str, int]]:
    """``(start, changed, sizes)``: 1 % edited, 1 % deleted, 1 % (held back from start) added."""
    from vecbridge.schemas import Document

    step = max(1, len(corpus) // 100)
    start, added = corpus[:-step], corpus[-step:]
    edited = {d.id for d in start[::100][:step]}
    deleted = {d.id for d in start[50::100][:step]} - edited
    changed = [
        Document(id=d.id, text=d.text + " (revised)", metadata=d.metadata) if d.id in edited else d
        for d in start
        if d.id not in deleted
    ] + added
    return start, changed, {"edited": len(edited), "deleted": len(deleted), "added": len(added)}


class Counting:
    """Counts the documents an index encodes (its ``encode_documents``, wrapped on the instance)."""

    def __init__(self, index: Any) -> None:
        self.encoded = 0
        inner = index.encode_documents

        def encode(documents, **options):
            self.encoded += len(documents)
            return inner(documents, **options)

        index.encode_documents = encode


def make_index(db: Path, name: str, dense: Any, sparse: Any) -> Any:
    from vecbridge import HybridIndex
    from vecbridge.connectors.milvus import MilvusConnector
    from vecbridge.ingest.sync import SOURCE_KEY

    return HybridIndex.create(
        MilvusConnector(uri=str(db)),
        name,
        dense=dense,
        sparse=sparse,
        batch_size=BATCH,
        filterable={SOURCE_KEY: "string"},
    )


def run_vecbridge(index: Any, start: list, changed: list) -> dict[str, Any]:
    counter = Counting(index)
    out: dict[str, Any] = {}
    for step, docs in (("full", start), ("unchanged", start), ("change", changed)):
        before, t0 = counter.encoded, time.perf_counter()
        report = index.sync(docs, source_key=KEY, cleanup="full")
        out[step] = (time.perf_counter() - t0, counter.encoded - before)
        assert report.balanced and report.ok, report.summary()
    return out


def run_langchain(index: Any, start: list, changed: list) -> dict[str, Any]:
    from langchain_core.documents import Document as LCDocument
    from langchain_core.indexing import InMemoryRecordManager, index as lc_index

    from vecbridge.integrations.langchain import VecbridgeVectorStore

    store = VecbridgeVectorStore(index)
    manager = InMemoryRecordManager(namespace=f"vecbridge/{index.spec.name}")
    manager.create_schema()
    counter = Counting(index)

    def as_lc(docs: list) -> list:
        return [LCDocument(page_content=d.text, metadata={**d.metadata, "doc_id": d.id}) for d in docs]

    out: dict[str, Any] = {}
    for step, docs in (("full", start), ("unchanged", start), ("change", changed)):
        before, t0 = counter.encoded, time.perf_counter()
        lc_index(as_lc(docs), manager, store, cleanup="full", batch_size=BATCH, key_encoder="sha256")
        out[step] = (time.perf_counter() - t0, counter.encoded - before)
    return out


def end_state(index: Any, key: str) -> dict[str, tuple]:
    """(text, user metadata) -> (dense, sparse) of every stored document; ``key``: the metadata id key."""
    state = {}
    for doc in index.iterate(with_vectors=True):
        meta = {k: v for k, v in doc.metadata.items() if not k.startswith("vb_") and k != key}
        ident = doc.metadata.get(key, doc.id) if key else doc.id
        sparse = doc.sparse["sparse"]
        dense = None if doc.dense is None else np.asarray(doc.dense, dtype=np.float32)
        state[(ident, doc.text, repr(sorted(meta.items())))] = (
            dense,
            dict(zip(sparse.indices, sparse.values, strict=True)),
        )
    return state


def compare(state: dict, reference: dict) -> str:
    if set(state) != set(reference):
        return f"DIFFERENT documents ({len(set(state) ^ set(reference))} differ)"
    dense = max(
        (float(np.abs(state[k][0] - reference[k][0]).max()) for k in state if state[k][0] is not None), default=0.0
    )
    sparse = all(state[k][1] == reference[k][1] for k in state)
    return f"same {len(state)} (id, text, metadata); dense max |diff| {dense:.1e}; sparse {'equal' if sparse else 'DIFFER'}"


def main() -> None:
    from benchmarks.timing import machine_line, write_results

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--dense",
        choices=["int8", "none"],
        default="int8",
        help="none: BM25 only (a quick full-corpus run; the full ingest is then far cheaper)",
    )
    args = parser.parse_args()

    from vecbridge.encoders import load_encoder
    from vecbridge.encoders.bm25 import BM25Encoder
    from vecbridge.ingest import read_jsonl

    corpus = list(read_jsonl(args.corpus))[: args.limit]
    start, changed, sizes = change_set(corpus)
    dense = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8") if args.dense == "int8" else None
    sparse = BM25Encoder().fit([d.text for d in start])
    print(f"start corpus {len(start)} docs; change set {sizes}; changed corpus {len(changed)} docs")
    runners = {"vecbridge": run_vecbridge, "langchain": run_langchain}
    results: dict[str, list] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory() as tmp:
        ref = make_index(Path(tmp) / "ref.db", "ref", dense, sparse)
        ref.sync(changed, source_key=KEY)
        reference = end_state(ref, "")
        ends = {}
        for r in range(args.rounds):
            order = list(runners) if r % 2 == 0 else list(reversed(runners))
            for name in order:
                index = make_index(Path(tmp) / f"{name}{r}.db", f"{name}{r}", dense, sparse)
                results[name].append(runners[name](index, start, changed))
                ends[name] = end_state(index, "doc_id" if name == "langchain" else "")
                index.connector.close()
                print(
                    f"round {r + 1} {name}: "
                    + "  ".join(f"{k} {v[0]:.2f}s/{v[1]} enc" for k, v in results[name][-1].items()),
                    flush=True,
                )
    expected = sizes["edited"] + sizes["added"]
    print(f"\n{machine_line()}")
    print(
        f"{'':10} {'full ingest s':>13} {'unchanged s':>11} {'% full':>7} {'enc':>5} {'change s':>9} {'% full':>7} {'enc':>5} (expected {expected})"
    )
    for name, rounds in results.items():
        med = {k: statistics.median(r[k][0] for r in rounds) for k in ("full", "unchanged", "change")}
        enc = {k: rounds[-1][k][1] for k in ("unchanged", "change")}
        print(
            f"{name:10} {med['full']:13.2f} {med['unchanged']:11.2f} {100 * med['unchanged'] / med['full']:6.1f}% "
            f"{enc['unchanged']:5d} {med['change']:9.2f} {100 * med['change'] / med['full']:6.1f}% {enc['change']:5d}"
        )
    summary: dict[str, dict] = {"change_set": sizes}
    for name, rounds in results.items():
        summary[name] = {
            k: {"seconds": statistics.median(r[k][0] for r in rounds), "encoded": rounds[-1][k][1]}
            for k in ("full", "unchanged", "change")
        }
    for name, state in ends.items():
        summary[name]["end_state"] = compare(state, reference)
        print(f"end state {name} vs a fresh sync of the changed corpus: {summary[name]['end_state']}")
    print(f"results: {write_results('bench_sync', summary, args.rounds)}")


if __name__ == "__main__":
    main()
