"""``AsyncHybridIndex``: the sync index's results, a free event loop while encoding, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time

import pytest

from tests.asyncapi.stores import STORES, Store
from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex
from vecbridge.connectors import BlockingConnector, ThreadedConnector
from vecbridge.schemas import ConfigurationError, Document, FilterError

WORDS = "milvus elastic vector sparse dense hybrid fusion rank query index store text model encoder".split()
FILTERABLE = {"lang": "string", "year": "int"}
CASES = [
    ("dense vector", "dense", None),
    ("sparse rank fusion", "sparse", {"key": "year", "op": ">=", "value": 2020}),
    ("hybrid query encoder", "hybrid", None),
    (
        "vector store index",
        "hybrid",
        {"all": [{"key": "lang", "op": "==", "value": "en"}, {"key": "year", "op": "<", "value": 2023}]},
    ),
    ("text model", "hybrid", {"not": {"key": "lang", "op": "in", "value": ["zh"]}}),
]


def documents(n: int = 80, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    return [
        Document(
            id=f"doc{i:03d}",
            text=" ".join(rng.choices(WORDS, k=rng.randint(3, 9))),
            metadata={"lang": rng.choice(["en", "zh", "de"]), "year": rng.randint(2017, 2025)},
        )
        for i in range(n)
    ]


def collection(request: pytest.FixtureRequest) -> str:
    return "vbasync_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


def summary(hits):
    return [(h.id, round(h.score, 6), h.ranks) for h in hits]


class SlowEncoder(BagOfWordsEncoder):
    """Blocks its thread for ``delay`` seconds per call, like a model forward pass."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_queries(self, texts):
        time.sleep(self.delay)
        return self._encode(texts)


@pytest.mark.parametrize("store", STORES)
def test_results_equal_the_sync_index(store: Store, tmp_path, request):
    name, docs, encoder = collection(request), documents(), BagOfWordsEncoder()

    async def run_async():
        connector = store.open_async(tmp_path)
        try:
            index = await AsyncHybridIndex.create(connector, name, dense=encoder, sparse=encoder, filterable=FILTERABLE)
            report = await index.upsert(docs)
            assert (report.written, report.failed, await index.count()) == (len(docs), {}, len(docs))
            single = [await index.search(q, k=7, mode=m, filter=f) for q, m, f in CASES]
            batch = await index.search_batch([q for q, _, _ in CASES], k=7, mode="hybrid")
            got = await index.get(["doc001", "nope", "doc000"])
            return single, batch, got
        finally:
            await connector.close()

    single, batch, got = asyncio.run(run_async())
    connector = store.open_sync(tmp_path)
    try:
        index = HybridIndex.create(connector, name, dense=encoder, sparse=encoder, filterable=FILTERABLE)
        for (q, m, f), hits in zip(CASES, single, strict=True):
            expected = index.search(q, k=7, mode=m, filter=f)
            assert expected and summary(hits) == summary(expected), (q, m, f)
        assert [summary(h) for h in batch] == [summary(h) for h in index.search_batch([q for q, _, _ in CASES], k=7)]
        assert [d.id for d in got] == ["doc001", "doc000"] and got == index.get(["doc001", "nope", "doc000"])
    finally:
        connector.drop_collection(name)
        connector.close()


@pytest.mark.parametrize("store", [s for s in STORES if s.id in ("milvus-lite", "es-emulator")])
def test_64_concurrent_searches_equal_sequential(store: Store, tmp_path, request):
    name, encoder = collection(request), BagOfWordsEncoder()
    rng = random.Random(3)
    queries = [" ".join(rng.choices(WORDS, k=3)) for _ in range(64)]
    filters = [None, {"key": "year", "op": ">=", "value": 2021}]

    async def main():
        connector = store.open_async(tmp_path)
        try:
            index = await AsyncHybridIndex.create(connector, name, dense=encoder, sparse=encoder, filterable=FILTERABLE)
            await index.upsert(documents(120))
            sequential = [await index.search(q, k=10, filter=filters[i % 2]) for i, q in enumerate(queries)]
            concurrent = await asyncio.gather(
                *(index.search(q, k=10, filter=filters[i % 2]) for i, q in enumerate(queries))
            )
            await connector.drop_collection(name)
            return sequential, concurrent
        finally:
            await connector.close()

    sequential, concurrent = asyncio.run(main())
    assert all(sequential) and [summary(h) for h in concurrent] == [summary(h) for h in sequential]


def test_event_loop_keeps_running_while_encoding():
    encoder = SlowEncoder(delay=0.5)

    async def main():
        index = await AsyncHybridIndex.create(ThreadedConnector(InMemoryConnector()), "slow", dense=encoder)
        await index.upsert(documents(10))
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        started = time.monotonic()
        hits = await index.search("dense vector", k=3)
        elapsed = time.monotonic() - started
        stop.set()
        await task
        return hits, ticks - before, elapsed

    hits, ticks, elapsed = asyncio.run(main())
    assert len(hits) == 3 and elapsed >= 0.5
    assert ticks >= 10, f"the loop ticked only {ticks} times during a {elapsed:.2f} s search: encoding blocked it"


def test_validation_errors_are_the_sync_ones():
    encoder = BagOfWordsEncoder()

    async def main():
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()), "v", dense=encoder, sparse=encoder, filterable=FILTERABLE
        )
        with pytest.raises(FilterError, match="undeclared key 'color' needs a number"):
            await index.search("x", filter={"key": "color", "op": ">", "value": "red"})
        with pytest.raises(ConfigurationError, match="not one string"):
            await index.search_batch("one string")
        with pytest.raises(ConfigurationError, match="no reranker"):
            await index.search("x", rerank_top_n=3)
        with pytest.raises(ConfigurationError, match="filterable"):
            await AsyncHybridIndex.create(
                ThreadedConnector(InMemoryConnector()), "w", dense=encoder, filterable={"x": "complex"}
            )

    asyncio.run(main())


def test_upsert_accounts_for_every_document_and_dead_letters(tmp_path):
    from vecbridge.connectors.milvus import AsyncMilvusConnector

    encoder, docs = BagOfWordsEncoder(), documents(20)
    docs[5] = Document(id="nokey", text="bad year", metadata={"lang": "en", "year": "MCMXC"})  # not an int
    dead = tmp_path / "dead.jsonl"

    async def main():
        connector = AsyncMilvusConnector(str(tmp_path / "acc.db"), batch_size=4)
        try:
            index = await AsyncHybridIndex.create(
                connector, "acc", dense=encoder, sparse=encoder, filterable=FILTERABLE, batch_size=6
            )
            report = await index.upsert(docs + [docs[0]], dead_letter=str(dead))
            return report, await index.count(), await index.delete(ids=["doc000", "nokey"]), await index.count()
        finally:
            await connector.close()

    report, count, deleted, after = asyncio.run(main())
    assert report.balanced and (report.read, report.written, list(report.failed)) == (21, 20, ["nokey"])
    assert count == 19 and deleted == 1 and after == 18
    assert '"nokey"' in dead.read_text() and "year" in dead.read_text()


def test_blocking_connector_refuses_its_own_loop_thread():
    async def main():
        blocking = BlockingConnector(ThreadedConnector(InMemoryConnector()), loop=asyncio.get_running_loop())
        with pytest.raises(ConfigurationError, match="own event loop"):
            blocking.count("x")

    asyncio.run(main())
