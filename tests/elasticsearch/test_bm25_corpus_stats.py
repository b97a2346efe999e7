"""BM25 statistics that follow the corpus on Elasticsearch (the emulator by default): exact against
a fit of what remains after writes, replacements and deleting half of the corpus."""

from __future__ import annotations

from tests.facade.test_bm25_corpus_stats import corpus, fit, live_index
from vecbridge.schemas import Document


def test_statistics_stay_exact_on_elasticsearch(connector, index_name):
    index = live_index(connector, index_name, batch_size=6)
    docs = corpus(30)
    assert index.upsert(docs).ok
    changed = [Document(id=d.id, text=d.text + " revised zebra", metadata=d.metadata) for d in docs[:5]]
    assert index.upsert(changed).ok
    index.delete(ids=[d.id for d in docs[:10]])
    index.delete(filter={"key": "group", "op": "==", "value": "odd"})
    remaining = [d.text for d in docs[10:] if int(d.id[1:]) % 2 == 0]
    assert index.count() == len(remaining) == 10
    reader = live_index(connector, index_name)  # another process: the log alone
    assert reader.corpus_stats.refresh(force=True) == fit(remaining) == index.corpus_stats.recount()
    assert [h.id for h in reader.search("zebra", mode="sparse")] == []  # the revised ones were deleted
    connector.drop_collection(index_name)
    assert connector.log_versions(index_name) == []
