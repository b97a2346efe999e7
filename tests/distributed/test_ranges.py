"""Read ranges (no Ray needed): the ranges of a file, read one after the other, give exactly the
records the in-process reader gives, with the same line numbers and byte offsets."""

import json

import pytest

pytest.importorskip("pyarrow")

from vecbridge.distributed.ranges import plan_ranges, read_range, record_row, row_record  # noqa: E402
from vecbridge.ingest.records import read_csv_records, read_jsonl_records, read_parquet_records  # noqa: E402
from vecbridge.ingest.sources import FileSource  # noqa: E402


def _jsonl(tmp_path, trailing_newline: bool = True):
    lines = [json.dumps({"id": str(i), "text": "word " * (i % 7)}) for i in range(1, 60)]
    lines[10] = ""  # blank line: not a record, still a line
    lines[20] = "{not json"
    lines[30] = json.dumps({"id": "x", "text": 5})
    body = "\ufeff" + "\n".join(lines) + ("\n" if trailing_newline else "")
    path = tmp_path / "in.jsonl"
    path.write_bytes(body.encode("utf-8") + b'\n{"id": "bad", "text": "\xff"}\n')
    return path


@pytest.mark.parametrize("trailing_newline", [True, False])
@pytest.mark.parametrize("range_bytes", [1, 37, 200, 10_000_000])
def test_jsonl_ranges_cover_the_file_once_with_its_line_numbers(tmp_path, trailing_newline, range_bytes):
    path = _jsonl(tmp_path, trailing_newline)
    ranges = plan_ranges(FileSource(path), range_bytes=range_bytes)
    assert ranges[0]["start"] == 0 and ranges[-1]["stop"] in (None, path.stat().st_size)
    assert all(a["stop"] == b["start"] for a, b in zip(ranges, ranges[1:], strict=False))
    got = [record for spec in ranges for record in read_range(spec)]
    assert got == list(read_jsonl_records(path))


def test_pieces_split_a_small_file_into_several_ranges(tmp_path):
    path = _jsonl(tmp_path)
    assert len(plan_ranges(FileSource(path), pieces=8)) >= 6


def test_parquet_ranges_follow_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": str(i), "text": f"t{i}" if i % 5 else None} for i in range(1, 24)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5)
    ranges = plan_ranges(FileSource(path))
    assert [(r["start_line"], r["stop"]) for r in ranges] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    assert [rec for spec in ranges for rec in read_range(spec)] == list(read_parquet_records(path))
    assert [r.line for r in read_parquet_records(path, start_line=12)] == list(range(13, 24))


def test_csv_is_one_range(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,"two\nlines"\n2,\n3,ok,extra\n', encoding="utf-8")
    ranges = plan_ranges(FileSource(path), pieces=4)
    assert len(ranges) == 1
    assert list(read_range(ranges[0])) == list(read_csv_records(path))


def test_records_survive_the_arrow_row_round_trip(tmp_path):
    path = _jsonl(tmp_path)
    for record in read_jsonl_records(path):
        assert row_record(record_row(record)) == record.__class__(**{**record.__dict__, "end": None})
