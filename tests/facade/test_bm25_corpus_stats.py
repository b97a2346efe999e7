"""BM25 statistics that follow the corpus, on Milvus Lite: exact against a recount after writes,
replacements, deletes, failed writes, folding, two writer threads and two writer processes; frozen
collections keep working and migrate with ``vecbridge reindex --sparse``."""

from __future__ import annotations

import logging
import multiprocessing
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from vecbridge.config import open_index
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.corpus_stats import FOLD_AFTER
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.bm25_live import LiveBM25Encoder, TermStats, term_id
from vecbridge.index import HybridIndex
from vecbridge.schemas import Document, Settings, StoreUnavailableError, WriteError
from vecbridge.state import CollectionState
from vecbridge.testing.fixtures import milvus_lite_server as milvus_server  # noqa: F401  (fixture)

TOPICS = ["insulin glucose", "vector database", "sparse retrieval", "heart disease", "dense embedding", "river flood"]


def corpus(n: int, prefix: str = "d", extra: str = "") -> list[Document]:
    return [
        Document(
            id=f"{prefix}{i}",
            text=f"{TOPICS[i % 6]} note {i} {'word ' * (i % 7)}{extra}".strip(),
            metadata={"group": "even" if i % 2 == 0 else "odd"},
        )
        for i in range(n)
    ]


def fit(texts) -> TermStats:
    """The statistics of ``texts`` computed from scratch, independent of the store and the log."""
    return LiveBM25Encoder().stats_of(list(texts))


def live_index(connector, name: str = "docs", batch_size: int = 256) -> HybridIndex:
    return HybridIndex.create(
        connector, name, sparse=LiveBM25Encoder(), filterable={"group": "string"}, batch_size=batch_size
    )


def log_stats(connector, name: str = "docs") -> TermStats:
    """What a new reader (another process) computes from the log alone."""
    return live_index(connector, name).corpus_stats.refresh(force=True)


@pytest.fixture
def connector(tmp_path):
    conn = MilvusConnector(str(tmp_path / "store.db"))
    yield conn
    conn.close()


def test_writes_replacements_and_deleting_half_leave_exact_statistics(connector):
    index = live_index(connector, batch_size=7)
    docs = corpus(60)
    assert index.upsert(docs).ok
    expected = {d.id: d.text for d in docs}
    assert log_stats(connector) == fit(expected.values()) == index.corpus_stats.recount()
    changed = [Document(id=d.id, text=d.text + " revised zebra", metadata=d.metadata) for d in docs[:15]]
    assert index.upsert(changed).ok  # replacements: the old texts are subtracted
    expected.update({d.id: d.text for d in changed})
    assert index.corpus_stats.refresh(force=True) == fit(expected.values())
    index.delete(ids=[d.id for d in docs[:15]] + ["missing"])  # a quarter by id (one id does not exist)
    index.delete(filter={"key": "group", "op": "==", "value": "odd"})  # and the odd ones by filter
    remaining = {i: t for i, t in expected.items() if i not in {d.id for d in docs[:15]} and int(i[1:]) % 2 == 0}
    assert index.count() == len(remaining) == 22  # more than half of the corpus is gone
    assert log_stats(connector) == fit(remaining.values()) == index.corpus_stats.recount()
    assert index.delete_all() == len(remaining)
    assert log_stats(connector).empty


def test_queries_use_the_statistics_of_every_writer(connector):
    writer, reader = live_index(connector), live_index(connector)
    assert writer.upsert(corpus(12)).ok
    assert reader.search("zebra", mode="sparse") == []
    assert writer.upsert([Document(id="z", text="zebra savanna")]).ok  # a term the first ingest never saw
    reader.corpus_stats.refresh(force=True)  # searches refresh at most every max_age seconds
    assert [h.id for h in reader.search("zebra", mode="sparse")] == ["z"]


class Flaky:
    """A Milvus connector whose upserts fail in the ways stores fail (delegates everything else)."""

    def __init__(self, inner: MilvusConnector) -> None:
        self.inner, self.mode, self.reads_fail = inner, None, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get(self, *args, **kwargs):
        if self.reads_fail:
            self.reads_fail -= 1
            raise StoreUnavailableError("store down (read)")
        return self.inner.get(*args, **kwargs)

    def upsert(self, collection, batch):
        if self.mode == "reject":  # rows whose id starts with "bad" are rejected, the rest written
            keep = [i for i, d in enumerate(batch.documents) if not d.id.startswith("bad")]
            from vecbridge.ingest.writing import select

            written = self.inner.upsert(collection, select(batch, keep)) if keep else 0
            failed = {d.id: "rejected" for d in batch.documents if d.id.startswith("bad")}
            if failed:
                raise WriteError("rejected rows", failed, written)
            return written
        if self.mode == "lost-ack":  # written, but the acknowledgement never arrives
            self.inner.upsert(collection, batch)
            raise StoreUnavailableError("connection reset after the write")
        if self.mode == "down":
            raise StoreUnavailableError("store down")
        return self.inner.upsert(collection, batch)


def test_failed_writes_count_only_what_the_store_holds(connector):
    flaky = Flaky(connector)
    index = live_index(flaky, batch_size=5)
    good = corpus(10)
    assert index.upsert(good).ok
    flaky.mode = "reject"
    bad = [Document(id=f"bad{i}", text=f"rejected unicorn text {i}") for i in range(4)]
    report = index.upsert(corpus(6, prefix="n") + bad)
    assert report.written == 6 and len(report.failed) == 4
    expected = [d.text for d in good + corpus(6, prefix="n")]
    assert log_stats(connector) == fit(expected) == index.corpus_stats.recount()
    assert index.corpus_stats.open_intents() == {}


def test_an_unknown_outcome_is_settled_by_the_next_writer_of_its_ids(connector):
    flaky = Flaky(connector)
    index = live_index(flaky, batch_size=5)
    good = corpus(10)
    assert index.upsert(good).ok
    flaky.mode = "lost-ack"  # written, but the process never learns it (then dies)
    lost = corpus(3, prefix="l")
    with pytest.raises(Exception):  # noqa: B017  (whatever the flaky store raises; the statistics are what is tested)
        index.upsert(lost, on_error="stop")
    assert log_stats(connector) == fit(d.text for d in good)  # not counted yet: the outcome is unknown
    (intent,) = index.corpus_stats.open_intents().values()
    assert set(intent.ids) == {d.id for d in lost}
    resumed = live_index(connector, batch_size=5)  # another process re-sends the batch (ingest --resume)
    assert resumed.upsert(lost).ok
    expected = [d.text for d in good + lost]
    assert log_stats(connector) == fit(expected) == resumed.corpus_stats.recount()
    flaky.mode = "down"  # nothing written this time
    with pytest.raises(Exception):  # noqa: B017  (whatever the flaky store raises)
        index.upsert(corpus(2, prefix="u"))
    assert len(index.corpus_stats.open_intents()) == 1
    other = live_index(connector)
    assert other.corpus_stats.settle_open_intents(older_than=0) == 1  # a stale intent, settled by any writer
    assert log_stats(connector) == fit(expected) == other.corpus_stats.recount()
    assert other.corpus_stats.open_intents() == {}


def test_a_writer_folds_its_entries(connector):
    index = live_index(connector, batch_size=2)
    docs = corpus(2 * (2 * FOLD_AFTER + 3))
    assert index.upsert(docs).ok
    assert len(connector.log_versions("docs")) < FOLD_AFTER
    assert log_stats(connector) == fit(d.text for d in docs)


def test_two_writer_threads_on_one_index(connector):
    index = live_index(connector, batch_size=4)
    parts = [corpus(30, prefix="a"), corpus(30, prefix="b", extra="beta")]
    threads = [threading.Thread(target=index.upsert, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log_stats(connector) == fit(d.text for p in parts for d in p) == index.corpus_stats.recount()


def _writer_process(uri: str, prefix: str) -> None:
    connector = MilvusConnector(uri)
    try:
        index = live_index(connector, "two_writers", batch_size=3)
        docs = corpus(24, prefix=prefix, extra=prefix)
        index.upsert(docs)
        index.upsert([Document(id=d.id, text=d.text + " changed", metadata=d.metadata) for d in docs[:6]])
        index.delete(ids=[d.id for d in docs[18:]])
    finally:
        connector.close()


def _expected_of_process(prefix: str) -> list[str]:
    docs = corpus(24, prefix=prefix, extra=prefix)
    return [d.text + " changed" for d in docs[:6]] + [d.text for d in docs[6:18]]


def test_two_writer_processes_on_one_server(milvus_server):  # noqa: F811
    uri = milvus_server.uri
    MilvusConnector(uri).drop_collection("two_writers")
    live_index(MilvusConnector(uri), "two_writers")  # created before the writers start
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer_process, args=(uri, p)) for p in ("p", "q")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    connector = MilvusConnector(uri)
    try:
        index = live_index(connector, "two_writers")
        assert index.count() == 36
        expected = fit(_expected_of_process("p") + _expected_of_process("q"))
        assert index.corpus_stats.refresh(force=True) == expected == index.corpus_stats.recount()
    finally:
        connector.drop_collection("two_writers")
        connector.close()


def test_reindex_removes_the_avgdl_drift(connector):
    index = live_index(connector, batch_size=4)
    docs = corpus(40)
    assert index.upsert(docs[:4]).ok and index.upsert(docs[4:]).ok  # grown from a first ingest of 4
    encoder = index.retrievers["sparse"].encoder

    def drift() -> float:
        stored = {d.id: d.sparse["sparse"] for d in index.get([d.id for d in docs], with_vectors=True)}
        fresh = encoder.encode_documents([d.text for d in docs]).sparse
        return max(float(np.abs(stored[d.id].values - v.values).max()) for d, v in zip(docs, fresh, strict=True))

    assert drift() > 1e-3
    report = index.reindex_sparse(batch_size=16)
    assert report.documents == 40 and report.n_docs == 40
    assert drift() < 1e-6
    assert log_stats(connector) == fit(d.text for d in docs) and len(connector.log_versions("docs")) == 1


def _frozen_collection(db) -> list[Document]:
    """A collection as an older vecbridge built it: vocabulary ids, statistics frozen in the state."""
    docs = corpus(20)
    frozen = BM25Encoder().fit([d.text for d in docs])
    connector = MilvusConnector(str(db))
    index = HybridIndex.create(connector, "docs", sparse=frozen, filterable={"group": "string"})
    index.upsert(docs)
    models = {"dense_model": "none", "sparse_model": "bm25"}
    connector.write_state("docs", CollectionState(models, index.spec, {"bm25": frozen.to_dict()}).to_dict())
    connector.close()
    return docs


def test_frozen_collections_keep_working_then_migrate(tmp_path, monkeypatch, caplog):
    db = tmp_path / "store.db"
    docs = _frozen_collection(db)
    env = {"URI": str(db), "COLLECTION": "docs", "DENSE_MODEL": "none", "SPARSE_MODEL": "bm25", "TEXT_SEARCH": "false"}
    for key, value in env.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    with caplog.at_level(logging.WARNING, logger="vecbridge.config"):
        index = open_index(Settings(_env_file=None))
    assert "frozen BM25 statistics" in caplog.text and "vecbridge reindex --sparse --collection docs" in caplog.text
    assert isinstance(index.retrievers["sparse"].encoder, BM25Encoder) and index.corpus_stats is None
    assert index.search("insulin glucose", mode="sparse", k=3)[0].id in {"d0", "d6", "d12", "d18"}
    index.connector.close()

    from vecbridge.cli import app

    result = CliRunner().invoke(app, ["reindex", "--sparse"])
    assert result.exit_code == 0, result.output
    assert "migrated" in result.output and "re-encoded 20 sparse vectors" in result.output

    index = open_index(Settings(_env_file=None))
    try:
        encoder = index.retrievers["sparse"].encoder
        assert isinstance(encoder, LiveBM25Encoder)
        assert index.corpus_stats.refresh(force=True) == fit(d.text for d in docs)
        stored = index.get(["d0"], with_vectors=True)[0].sparse["sparse"]
        assert term_id("insulin") in stored.indices.tolist()  # hashed ids now
        assert index.upsert([Document(id="z", text="zebra savanna", metadata={"group": "odd"})]).ok
        assert [h.id for h in index.search("zebra", mode="sparse")] == ["z"]
    finally:
        index.connector.close()


def test_reindex_needs_sparse_flag(tmp_path, monkeypatch):
    from vecbridge.cli import app

    result = CliRunner().invoke(app, ["reindex"])
    assert result.exit_code == 2 and "--sparse" in result.output


def test_dropping_the_collection_drops_its_statistics(connector):
    index = live_index(connector)
    assert index.upsert(corpus(5)).ok and connector.log_versions("docs")
    connector.drop_collection("docs")
    assert connector.log_versions("docs") == []


def test_sync_and_stale_chunk_deletes_keep_exact_statistics(connector):
    """``sync`` replaces, re-chunks and cleans up through the index: the statistics in the log equal a
    fit on exactly what the store holds afterwards."""
    index = live_index(connector)
    docs = corpus(40)
    first = index.sync(docs, source_key="notes", chunk_tokens=4)
    assert first.added == 40
    edited = [Document(id=d.id, text=d.text.split(" note ")[0], metadata=d.metadata) for d in docs[:10]]  # fewer chunks
    kept = docs[10:30]  # docs[30:] leave the source
    report = index.sync(edited + kept + corpus(5, prefix="new"), source_key="notes", cleanup="full", chunk_tokens=4)
    assert (report.updated, report.deleted, report.added) == (10, 10, 5)
    stored = [d.text for d in index.iterate()]
    assert {d.metadata["vb_parent"] for d in index.iterate()} == {d.id for d in edited + kept + corpus(5, prefix="new")}
    assert log_stats(connector) == fit(stored) == index.corpus_stats.recount()
