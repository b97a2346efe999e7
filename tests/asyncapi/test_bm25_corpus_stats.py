"""AsyncHybridIndex keeps LiveBM25Encoder statistics exact too (writes, deletes, delete_all) on Milvus Lite."""

from __future__ import annotations

import asyncio

from tests.facade.test_bm25_corpus_stats import corpus, fit
from vecbridge import AsyncHybridIndex, Document, LiveBM25Encoder
from vecbridge.connectors.milvus import AsyncMilvusConnector


def test_async_index_statistics_follow_the_corpus(tmp_path):
    async def scenario() -> None:
        connector = AsyncMilvusConnector(str(tmp_path / "async.db"))
        try:
            index = await AsyncHybridIndex.create(
                connector, "docs", sparse=LiveBM25Encoder(), filterable={"group": "string"}, batch_size=4
            )
            docs = corpus(20)
            assert (await index.upsert(docs)).ok
            await index.delete(ids=[d.id for d in docs[:10]])
            stats = await asyncio.to_thread(index.corpus_stats.refresh, True)
            assert stats == fit(d.text for d in docs[10:])
            assert stats == await asyncio.to_thread(index.corpus_stats.recount)
            assert (await index.upsert([Document(id="z", text="zebra savanna", metadata={"group": "odd"})])).ok
            assert [h.id for h in await index.search("zebra", mode="sparse")] == ["z"]
            assert await index.delete_all() == 11
            assert (await asyncio.to_thread(index.corpus_stats.refresh, True)).empty
        finally:
            await connector.close()

    asyncio.run(scenario())
