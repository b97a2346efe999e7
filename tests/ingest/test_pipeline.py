"""The pipeline against in-memory stores: exact accounting, dead letters, stop, store down, Ctrl-C,
resume, overlap of encoding and writing, bounded memory."""

import json
import threading
import time

import pytest

from tests.facade.fakes import InMemoryConnector
from tests.ingest.fakes import (
    FlakyStore,
    GatedStore,
    HookEncoder,
    LegacyRejectingConnector,
    RejectingConnector,
    dead_rows,
    make_index,
    rows,
    write_jsonl,
)
from vecbridge.ingest import Checkpoint, IngestError, IngestInterrupted, ingest, pipeline_depth
from vecbridge.schemas import ConfigurationError, Document


def _check(report, connector):
    assert report.read == report.written + len(report.failed) + report.skipped
    assert connector.count("docs") == report.written


@pytest.mark.parametrize("store", [RejectingConnector, LegacyRejectingConnector])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 50])
def test_rejected_rows_are_dead_lettered_and_every_other_row_written(tmp_path, store, batch_size):
    reject = {"d2", "d3", "d11", "d19"}
    connector = store(reject)
    dead = tmp_path / "dead.jsonl"
    report = ingest(
        make_index(connector, batch_size), [Document(id=r["id"], text=r["text"]) for r in rows(20)], dead_letter=dead
    )
    assert set(report.failed) == reject and report.written == 16 and report.read == 20
    _check(report, connector)
    assert sorted(connector.rows["docs"]) == sorted(f"d{i}" for i in range(20) if f"d{i}" not in reject)
    letters = dead_rows(dead)
    assert {r["id"] for r in letters} == reject and {r["stage"] for r in letters} == {"write"}
    assert all(json.loads(r["raw"])["id"] == r["id"] for r in letters)  # a Document's raw row is its JSON


def test_duplicate_ids_in_one_batch_keep_the_last_and_count_the_rest_skipped(tmp_path):
    connector = InMemoryConnector()
    dead = tmp_path / "dead.jsonl"
    docs = [
        {"id": "a", "text": "first"},
        {"id": "b", "text": "b"},
        {"id": "a", "text": "second"},
        {"id": "a", "text": "third"},
    ]
    report = ingest(make_index(connector, 10), docs, dead_letter=dead)
    assert (report.read, report.written, report.skipped, report.failed) == (4, 2, 2, {})
    _check(report, connector)
    assert connector.get("docs", ["a"])[0].text == "third"
    assert [(r["line"], r["stage"], r["reason"]) for r in dead_rows(dead)] == [
        (1, "duplicate", "duplicate id 'a' in one batch: superseded by line 3"),
        (3, "duplicate", "duplicate id 'a' in one batch: superseded by line 4"),
    ]
    assert not report.ok  # something was dead-lettered


def test_bad_lines_are_counted_and_the_valid_ones_all_written(tmp_path):
    items = rows(10)
    items[3] = b'{"id": "d3", "text": 17}\n'
    items[6] = b"{broken\n"
    path = write_jsonl(tmp_path / "in.jsonl", items)
    connector = InMemoryConnector()
    report = ingest(make_index(connector, 4), path, dead_letter=tmp_path / "dead.jsonl")
    assert report.failed == {
        "d3": "field 'text' must be a string, got int 17",
        "line 7": "invalid JSON at column 2: Expecting property name enclosed in double quotes",
    }
    assert report.written == 8 and report.read == 10
    _check(report, connector)
    assert [(r["line"], r["id"], r["raw"]) for r in dead_rows(tmp_path / "dead.jsonl")] == [
        (4, "d3", '{"id": "d3", "text": 17}'),
        (7, None, "{broken"),
    ]


def test_on_error_stop_stops_after_the_first_bad_record_and_resume_continues(tmp_path):
    items = rows(20)
    items[4] = b'{"id": "x"}\n'
    path = write_jsonl(tmp_path / "in.jsonl", items)
    ckpt, dead = tmp_path / "ckpt.json", tmp_path / "dead.jsonl"
    connector = InMemoryConnector()
    index = make_index(connector, 3)
    report = ingest(index, path, on_error="stop", checkpoint=ckpt, dead_letter=dead)
    assert report.stopped_at == 5 and report.line == 5 and report.read == 5 and report.written == 4
    _check(report, connector)
    saved = Checkpoint.load(ckpt)
    assert saved.line == 5 and not saved.complete
    rest = ingest(index, path, on_error="stop", checkpoint=ckpt, dead_letter=dead, resume=True)
    assert rest.resumed_at == 5 and rest.read == 15 and rest.stopped_at is None
    assert connector.count("docs") == 19 and len(dead_rows(dead)) == 1
    assert Checkpoint.load(ckpt).totals == {"read": 20, "written": 19, "failed": 1, "skipped": 0}


def test_store_down_stops_with_one_error_then_resume_completes(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", rows(30))
    ckpt = tmp_path / "ckpt.json"
    store = FlakyStore(fail_after=3)
    index = make_index(store, 4)
    with pytest.raises(IngestError) as caught:
        ingest(index, path, checkpoint=ckpt)
    message = str(caught.value)
    assert "store at memory:// unreachable after 3 attempts" in message and "--resume" in message
    assert "acknowledged through line 12" in message and message.count("\n") == 0
    assert caught.value.report.written == 12 and Checkpoint.load(ckpt).line == 12
    store.fail_after, store.down = None, False
    report = ingest(index, path, checkpoint=ckpt, resume=True)
    assert report.resumed_at == 12 and report.read == 18 and report.written == 18
    assert store.count("docs") == 30 and Checkpoint.load(ckpt).complete


def test_ctrl_c_stops_cleanly_keeps_the_checkpoint_and_resume_finishes(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", rows(40))
    ckpt, dead = tmp_path / "ckpt.json", tmp_path / "dead.jsonl"
    connector = InMemoryConnector()

    def interrupt(call):
        if call == 5:
            raise KeyboardInterrupt

    encoder = HookEncoder(interrupt)
    index = make_index(connector, 4, encoder)
    with pytest.raises(IngestInterrupted) as caught:
        ingest(index, path, checkpoint=ckpt, dead_letter=dead)
    assert isinstance(caught.value, KeyboardInterrupt)
    acked = Checkpoint.load(ckpt).line
    assert caught.value.report.line == acked and 0 < acked <= 16 and "--resume" in caught.value.message
    assert connector.count("docs") >= acked  # batches written but never acknowledged are rewritten on resume
    dead.write_text('{"line": 99, "reason": "from a batch never acknowledged"}\n')  # as if killed mid-ack
    Checkpoint.load(ckpt).save(ckpt)
    encoder.hook = lambda call: None
    report = ingest(index, path, checkpoint=ckpt, dead_letter=dead, resume=True)
    assert report.read == 40 - acked and connector.count("docs") == 40
    assert dead.read_text() == ""  # truncated to the checkpoint's length (0): no row of an unacknowledged batch


def test_resume_refuses_another_file_collection_or_chunking(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", rows(5))
    ckpt = tmp_path / "ckpt.json"
    index = make_index(InMemoryConnector(), 2)
    ingest(index, path, checkpoint=ckpt)
    with pytest.raises(ConfigurationError, match="chunking=None, this run has chunking="):
        ingest(index, path, checkpoint=ckpt, resume=True, chunk_tokens=5)
    with path.open("ab") as handle:
        handle.write(b'{"id": "new", "text": "appended"}\n')
    with pytest.raises(ConfigurationError, match=r"is not the file checkpointed .*\(.*in.jsonl; size, mtime_ns"):
        ingest(index, path, checkpoint=ckpt, resume=True)
    other = write_jsonl(tmp_path / "other.jsonl", rows(5))
    with pytest.raises(ConfigurationError, match="head_sha256|mtime_ns"):
        ingest(index, other, checkpoint=ckpt, resume=True)
    with pytest.raises(ConfigurationError, match="no checkpoint at"):
        ingest(index, path, checkpoint=tmp_path / "none.json", resume=True)
    with pytest.raises(ConfigurationError, match="cannot be resumed|needs a file source"):
        ingest(index, [Document(id="a", text="x")], checkpoint=ckpt)


def test_encoding_the_next_batch_overlaps_writing_the_previous_one():
    store = GatedStore()
    index = make_index(store, 2, HookEncoder(lambda call: call == 2 and store.writing.wait(30) and store.release.set()))
    report = ingest(index, [Document(id=f"d{i}", text="x") for i in range(6)])
    assert store.released_in_time is True  # batch 2 was being encoded while batch 1 was being written
    assert report.written == 6


def test_memory_is_bounded_while_the_store_is_slow():
    store = GatedStore()
    pulled = []

    def source():
        for i in range(10_000):
            pulled.append(i)
            yield Document(id=f"d{i}", text="x")

    index = make_index(store, 10)
    result = {}
    worker = threading.Thread(target=lambda: result.update(report=ingest(index, source())))
    worker.start()
    assert store.writing.wait(30)
    last, deadline = -1, time.monotonic() + 20
    while len(pulled) != last and time.monotonic() < deadline:  # until the reader is blocked
        last = len(pulled)
        time.sleep(0.3)
    assert len(pulled) <= 10 * (pipeline_depth() + 1)
    store.release.set()
    worker.join(60)
    assert result["report"].written == 10_000 and store.count("docs") == 10_000


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_csv_and_parquet_resume_after_a_store_outage(tmp_path, suffix):
    data = rows(25)
    path = tmp_path / f"in.{suffix}"
    if suffix == "csv":
        import csv

        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "text", "n"])
            writer.writeheader()
            writer.writerows(data)
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data), path, row_group_size=7)
    store, ckpt = FlakyStore(fail_after=2), tmp_path / "ckpt.json"
    index = make_index(store, 4)
    with pytest.raises(IngestError):
        ingest(index, path, checkpoint=ckpt)
    store.fail_after, store.down = None, False
    report = ingest(index, path, checkpoint=ckpt, resume=True)
    assert report.resumed_at == 8 and report.read == 17 and store.count("docs") == 25
    assert store.get("docs", ["d24"])[0].metadata["n"] == ("24" if suffix == "csv" else 24)


def test_an_id_written_again_by_a_later_batch_is_counted_replaced_and_the_store_holds_the_distinct_count(tmp_path):
    connector = InMemoryConnector()
    docs = [
        {"id": "a", "text": "first"},
        {"id": "b", "text": "b"},  # batch 1
        {"id": "c", "text": "c"},
        {"id": "a", "text": "second"},  # batch 2: a again
        {"id": "b", "text": "again"},
        {"id": "d", "text": "d"},
    ]  # batch 3: b again
    report = ingest(make_index(connector, 2), docs, dead_letter=tmp_path / "dead.jsonl")
    assert (report.read, report.written, report.replaced, report.skipped) == (6, 6, 2, 0)
    assert connector.count("docs") == report.distinct_written == 4
    assert connector.get("docs", ["a"])[0].text == "second"
    assert "replaced: 2" in report.summary()
