"""``AsyncHybridIndex`` under many concurrent calls: no deadlock whatever the thread-pool size, exact counts.

The loop's default executor is made small on purpose (2 threads): an upsert that held a pool thread
while waiting on the loop, for work that needs another thread of the same pool, would hang here.
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex
from vecbridge.connectors import ThreadedConnector
from vecbridge.connectors.milvus import AsyncMilvusConnector
from vecbridge.schemas import Document

DEADLINE_S = 60


def _with_small_pool(coroutine_fn, threads: int = 2):
    """``asyncio.run(coroutine_fn())`` with a ``threads``-thread default executor, in a daemon thread
    so that a deadlock fails the test after ``DEADLINE_S`` instead of hanging it."""
    outcome: dict = {}

    async def main():
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="test-default")
        )
        return await coroutine_fn()

    def target():
        try:
            outcome["result"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"deadlock: the calls did not complete within {DEADLINE_S} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _connectors(tmp_path):
    return {
        "milvus-lite": lambda: AsyncMilvusConnector(str(tmp_path / "stress.db")),
        "memory-threaded": lambda: ThreadedConnector(InMemoryConnector()),
    }


@pytest.mark.parametrize("store", ["milvus-lite", "memory-threaded"])
def test_more_concurrent_upserts_than_pool_threads_complete(store, tmp_path):
    """The issue's reproduction: 40 concurrent one-document upserts (6 hung on main) on a 2-thread pool."""
    connector = _connectors(tmp_path)[store]()

    async def main() -> tuple[list[int], int]:
        try:
            index = await AsyncHybridIndex.create(connector, "deadlock", dense=BagOfWordsEncoder())
            reports = await asyncio.gather(*(index.upsert([Document(id=str(j), text="t")]) for j in range(40)))
            return [r.written for r in reports], await index.count()
        finally:
            await connector.close()

    written, count = _with_small_pool(main)
    assert written == [1] * 40
    assert count == 40


def test_mixed_concurrent_load_finishes_with_exact_counts(tmp_path):
    """Hundreds of concurrent searches, upserts, counts and deletes on one index (Milvus Lite), with a
    deadline; the final count is exactly the ids upserted minus the ids deleted."""
    connector = AsyncMilvusConnector(str(tmp_path / "mixed.db"))
    encoder = BagOfWordsEncoder()
    words = "alpha beta gamma delta vector sparse dense hybrid".split()
    rng = random.Random(3)
    ops: list[tuple[str, int]] = [("upsert", i) for i in range(120)]
    ops += [("search", i) for i in range(200)] + [("count", i) for i in range(60)]
    ops += [("delete", i) for i in range(0, 120, 3)]  # 40 of the upserted ids, after their upsert
    rng.shuffle(ops)

    def doc(i: int) -> Document:
        return Document(id=f"d{i:03d}", text=" ".join(rng.choices(words, k=4)), metadata={})

    async def main() -> tuple[int, set[str]]:
        try:
            index = await AsyncHybridIndex.create(connector, "mixed", dense=encoder, sparse=encoder)
            upserted = {i: asyncio.Event() for i in range(120)}

            async def one(op: str, i: int):
                if op == "upsert":
                    report = await index.upsert([doc(i)])
                    assert report.written == 1, report
                    upserted[i].set()
                elif op == "delete":
                    await upserted[i].wait()
                    assert await index.delete(ids=[f"d{i:03d}"]) == 1
                elif op == "search":
                    hits = await index.search(rng.choice(words), k=5)
                    assert len(hits) <= 5
                else:
                    assert 0 <= await index.count() <= 120

            await asyncio.gather(*(one(op, i) for op, i in ops))
            ids = {d.id async for d in index.iterate()}
            return await index.count(), ids
        finally:
            await connector.close()

    count, ids = _with_small_pool(main)
    expected = {f"d{i:03d}" for i in range(120) if i % 3}
    assert (count, ids) == (len(expected), expected)


def test_blocking_call_on_a_stopped_loop_fails_instead_of_hanging():
    """An upsert thread left waiting on a loop that stopped (its caller gave up) raises, never hangs."""
    from vecbridge.connectors import BlockingConnector
    from vecbridge.schemas import ConnectorError

    loop = asyncio.new_event_loop()  # never run
    try:
        blocking = BlockingConnector(ThreadedConnector(InMemoryConnector()), loop=loop)
        with pytest.raises(ConnectorError, match="event loop .* stopped"):
            blocking.has_collection("x")
    finally:
        loop.close()


def test_hundreds_of_requests_at_once_stay_within_what_milvus_lite_serves(tmp_path):
    """100 upserts and 300 searches gathered at once on one Lite file: without a bound on the requests in
    flight, Milvus Lite's server drops the connection and every call fails; all succeed here."""

    async def main() -> list:
        connector = AsyncMilvusConnector(str(tmp_path / "burst.db"))
        try:
            encoder = BagOfWordsEncoder()
            index = await AsyncHybridIndex.create(connector, "burst", dense=encoder, sparse=encoder)
            writes = [index.upsert([Document(id=str(i), text="alpha beta")]) for i in range(100)]
            reads = [index.search("alpha", k=5) for _ in range(300)]
            results = await asyncio.wait_for(asyncio.gather(*writes, *reads, return_exceptions=True), 120)
            assert await index.count() == 100
            return [r for r in results if isinstance(r, BaseException)]
        finally:
            await connector.close()

    assert asyncio.run(main()) == []
