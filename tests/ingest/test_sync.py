"""``index.sync``: content hashes in the store, unchanged documents skipped unencoded, changed ones
replaced without stale chunks, ``cleanup="full"`` scoped by source key, exact counts, failures kept."""

from __future__ import annotations

import asyncio

import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from tests.ingest.fakes import RejectingConnector, make_index, write_jsonl
from vecbridge.ingest.sync import HASH_KEY, PARENT_KEY, SOURCE_KEY, Cleanup, content_hash, encoder_identity
from vecbridge.schemas import ConfigurationError, Document


def docs(n: int, prefix: str = "d", topic: str = "topic") -> list[Document]:
    return [
        Document(id=f"{prefix}{i}", text=f"document {i} about {topic} {i % 5}", metadata={"n": i}) for i in range(n)
    ]


def stored(index) -> dict[str, Document]:
    return {d.id: d for d in index.iterate()}


def user_view(index) -> dict[str, tuple[str, dict]]:
    """Ids, texts and metadata less the reserved keys."""
    return {
        i: (d.text, {k: v for k, v in d.metadata.items() if not k.startswith("vb_")}) for i, d in stored(index).items()
    }


def test_first_sync_adds_every_document_and_stamps_source_and_hash():
    encoder = BagOfWordsEncoder()
    index = make_index(InMemoryConnector(), encoder=encoder)
    report = index.sync(docs(10), source_key="notes")
    assert (report.read, report.added, report.updated, report.unchanged, report.deleted) == (10, 10, 0, 0, 0)
    assert report.balanced and report.ok and report.encoded == 10
    doc = stored(index)["d3"]
    assert doc.metadata[SOURCE_KEY] == "notes" and doc.metadata[PARENT_KEY] == "d3"
    assert doc.metadata[HASH_KEY] == content_hash(docs(10)[3], encoder_identity(index), None)


def test_resync_of_an_unchanged_source_encodes_nothing():
    encoder = BagOfWordsEncoder()
    index = make_index(InMemoryConnector(), encoder=encoder)
    index.sync(docs(20), source_key="s")
    calls = encoder.calls
    report = index.sync(docs(20), source_key="s")
    assert (report.unchanged, report.added, report.updated, report.encoded) == (20, 0, 0, 0)
    assert encoder.calls == calls and report.balanced


def test_changed_text_or_metadata_is_reencoded_and_only_it():
    encoder = BagOfWordsEncoder()
    index = make_index(InMemoryConnector(), encoder=encoder)
    index.sync(docs(20), source_key="s")
    changed = docs(20)
    changed[4] = Document(id="d4", text="a new text", metadata={"n": 4})
    changed[9] = Document(id="d9", text=changed[9].text, metadata={"n": 9, "tag": "x"})
    report = index.sync(changed, source_key="s")
    assert (report.updated, report.unchanged, report.encoded) == (2, 18, 2)
    assert user_view(index)["d4"] == ("a new text", {"n": 4})
    assert user_view(index)["d9"][1] == {"n": 9, "tag": "x"}


def test_another_encoder_identity_reencodes_everything():
    connector = InMemoryConnector()
    make_index(connector).sync(docs(5), source_key="s")
    other = BagOfWordsEncoder()
    other.name = "another-model"
    report = make_index(connector, encoder=other).sync(docs(5), source_key="s")
    assert (report.updated, report.unchanged) == (5, 0)


def test_rechunking_into_fewer_chunks_deletes_the_stale_ones():
    index = make_index(InMemoryConnector())
    long = Document(id="doc", text=" ".join(f"w{i}" for i in range(40)))
    index.sync([long], source_key="s", chunk_tokens=10)
    assert sorted(stored(index)) == [f"doc#{n}" for n in range(4)]
    short = Document(id="doc", text="only a few words now")
    report = index.sync([short], source_key="s", chunk_tokens=10)
    assert report.updated == 1 and report.chunks_deleted == 3
    assert sorted(stored(index)) == ["doc#0"]
    # and back to unchunked: the chunk ids go, the plain id comes
    index.sync([short], source_key="s")
    assert sorted(stored(index)) == ["doc"]


def test_cleanup_full_deletes_what_left_the_source_and_never_another_sources_documents():
    index = make_index(InMemoryConnector())
    index.sync(docs(10, "a"), source_key="A")
    index.sync(docs(5, "b"), source_key="B")
    index.upsert(docs(3, "plain"))  # written outside any sync
    report = index.sync(docs(10, "a")[:7], source_key="A", cleanup="full")
    assert (report.deleted, report.unchanged, report.read) == (3, 7, 7) and report.balanced
    ids = set(stored(index))
    assert {f"a{i}" for i in range(7)} <= ids and not {"a7", "a8", "a9"} & ids
    assert {f"b{i}" for i in range(5)} | {f"plain{i}" for i in range(3)} <= ids


def test_without_cleanup_nothing_is_deleted():
    index = make_index(InMemoryConnector())
    index.sync(docs(10), source_key="s")
    report = index.sync(docs(4), source_key="s")
    assert report.deleted == 0 and index.count() == 10


def test_cleanup_uses_a_filter_when_the_source_key_is_filterable():
    encoder = BagOfWordsEncoder()
    connector = InMemoryConnector()
    from vecbridge import HybridIndex

    index = HybridIndex.create(connector, "docs", dense=encoder, filterable={SOURCE_KEY: "string"}, batch_size=4)
    index.sync(docs(6, "a"), source_key="A")
    index.sync(docs(6, "b"), source_key="B")
    seen = []
    original = connector.iterate

    def spy(collection, filter=None, batch_size=1000, with_vectors=False):
        seen.append(filter)
        return original(collection, filter, batch_size, with_vectors)

    connector.iterate = spy
    report = index.sync(docs(6, "a")[:2], source_key="A", cleanup="full")
    assert report.deleted == 4 and index.count() == 8
    assert seen and seen[0] is not None


def test_rejected_rows_are_failed_kept_and_not_counted_written(tmp_path):
    connector = RejectingConnector(reject=set())
    index = make_index(connector)
    index.sync(docs(6), source_key="s")
    connector.reject = {"d2"}
    changed = [Document(id=d.id, text=d.text + " edited", metadata=d.metadata) for d in docs(6)]
    report = index.sync(changed, source_key="s", cleanup="full", dead_letter=tmp_path / "dl.jsonl")
    assert list(report.failed) == ["d2"] and report.updated == 5 and report.deleted == 0 and report.balanced
    assert stored(index)["d2"].text == docs(6)[2].text  # the old version stays
    connector.reject = set()
    again = index.sync(changed, source_key="s", cleanup="full")
    assert (again.updated, again.unchanged) == (1, 5)


def test_an_unreadable_record_without_id_blocks_cleanup(tmp_path):
    index = make_index(InMemoryConnector())
    path = write_jsonl(tmp_path / "docs.jsonl", [{"id": f"d{i}", "text": f"t {i}"} for i in range(5)])
    index.sync(path, cleanup="full")
    write_jsonl(path, [{"id": "d0", "text": "t 0"}, b"{not json\n"])
    report = index.sync(path, cleanup="full", dead_letter=tmp_path / "dl.jsonl")
    assert report.cleanup_skipped and report.deleted == 0 and index.count() == 5
    assert report.read == 2 and len(report.failed) == 1 and report.balanced and not report.ok


def test_a_repeated_id_is_skipped_and_counted():
    index = make_index(InMemoryConnector())
    twice = docs(3) + [Document(id="d1", text="second")]
    report = index.sync(twice, source_key="s")
    assert (report.read, report.added, report.skipped) == (4, 3, 1) and report.balanced
    assert stored(index)["d1"].text == docs(3)[1].text


def test_a_file_source_defaults_to_its_path_as_source_key(tmp_path):
    index = make_index(InMemoryConnector())
    path = write_jsonl(tmp_path / "docs.jsonl", [{"id": f"d{i}", "text": f"t {i}"} for i in range(3)])
    report = index.sync(path)
    assert report.source == str(path.resolve())
    assert stored(index)["d0"].metadata[SOURCE_KEY] == str(path.resolve())


def test_bad_arguments_name_the_field():
    index = make_index(InMemoryConnector())
    with pytest.raises(ConfigurationError, match="cleanup='everything'"):
        index.sync(docs(1), cleanup="everything")
    with pytest.raises(ConfigurationError, match="source_key"):
        index.sync(docs(1), source_key="")
    assert Cleanup("full") is Cleanup.FULL


def test_async_index_syncs_like_the_sync_one():
    from vecbridge import AsyncHybridIndex
    from vecbridge.connectors import ThreadedConnector

    async def run():
        encoder = BagOfWordsEncoder()
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()), "docs", dense=encoder, batch_size=4
        )
        first = await index.sync(docs(8), source_key="s")
        second = await index.sync(docs(8)[:5], source_key="s", cleanup="full")
        return first, second, await index.count()

    first, second, count = asyncio.run(run())
    assert first.added == 8 and (second.unchanged, second.deleted) == (5, 3) and count == 5


def _fresh(documents, **options) -> dict:
    index = make_index(InMemoryConnector())
    index.sync(documents, source_key="s", **options)
    return {i: (d.text, d.metadata) for i, d in stored(index).items()}


def test_a_run_stopped_before_deleting_stale_chunks_is_repaired_by_the_next_without_encoding():
    connector = InMemoryConnector()
    encoder = BagOfWordsEncoder()
    index = make_index(connector, encoder=encoder)
    long = [Document(id=f"p{i}", text=" ".join(f"w{j}" for j in range(30))) for i in range(3)]
    index.sync(long, source_key="s", chunk_tokens=8)
    short = [Document(id=d.id, text="short now") for d in long]
    original = connector.delete
    connector.delete = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed"))
    with pytest.raises(RuntimeError):
        index.sync(short, source_key="s", chunk_tokens=8)
    connector.delete = original
    calls = encoder.calls
    report = index.sync(short, source_key="s", chunk_tokens=8)
    assert report.updated == 3 and report.encoded == 0 and encoder.calls == calls
    assert {i: (d.text, d.metadata) for i, d in stored(index).items()} == _fresh(short, chunk_tokens=8)


def test_a_store_that_fails_mid_write_leaves_a_state_the_next_run_completes():
    from tests.ingest.fakes import FlakyStore
    from vecbridge.ingest import IngestError

    connector = FlakyStore()
    index = make_index(connector)
    before = [Document(id=f"p{i}", text=" ".join(f"a{j}" for j in range(i * 7))) for i in range(12)]
    index.sync(before, source_key="s", chunk_tokens=5)
    after = [Document(id=f"p{i}", text=" ".join(f"b{j}" for j in range((11 - i) * 3))) for i in range(10)]
    connector.calls, connector.fail_after = 0, 2
    with pytest.raises(IngestError, match="run the sync again"):
        index.sync(after, source_key="s", chunk_tokens=5, cleanup="full")
    connector.down, connector.fail_after = False, None
    report = index.sync(after, source_key="s", chunk_tokens=5, cleanup="full")
    assert report.balanced and report.ok and report.deleted == 2
    assert {i: (d.text, d.metadata) for i, d in stored(index).items()} == _fresh(after, chunk_tokens=5)


def test_plain_ingest_of_a_document_rechunked_into_fewer_chunks_leaves_no_stale_chunk():
    from vecbridge.ingest import ingest

    index = make_index(InMemoryConnector())
    long = [Document(id=f"p{i}", text=" ".join(f"w{j}" for j in range(10 + 10 * i))) for i in range(4)]
    ingest(index, long, chunk_tokens=5)
    assert index.count() == sum(2 + 2 * i for i in range(4))
    short = [Document(id=d.id, text="a b c d e f g") for d in long[1:]]
    report = ingest(index, short, chunk_tokens=5)
    assert report.written == 6
    assert sorted(stored(index)) == ["p0#0", "p0#1"] + [f"p{i}#{n}" for i in (1, 2, 3) for n in (0, 1)]


def test_the_async_twin_takes_the_same_arguments():
    import inspect

    from vecbridge import AsyncHybridIndex, HybridIndex

    assert inspect.signature(AsyncHybridIndex.sync) == inspect.signature(HybridIndex.sync)
