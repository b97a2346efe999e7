"""Readers: every record carries its position and raw text; bad records become reasons, never exceptions."""

import json

import pytest

from vecbridge.ingest import Cursor, FileSource, InputError, read_jsonl, read_jsonl_records
from vecbridge.ingest.records import document_records, parse_row
from vecbridge.schemas import ConfigurationError, Document


def _write(path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_jsonl_records_carry_line_offsets_and_reasons_naming_the_field(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        b'{"id": "a", "title": "T", "text": "body", "year": 2020}\n',
        b"\n",
        b'{"id": "b", "text": 5}\n',
        b'{"id": "c"}\n',
        b'{"text": "no id"}\n',
        b"{not json\n",
        b"[1, 2]\n",
        b'{"id": "d", "text": "caf\xe9"}\n',
        b'{"id": "e", "text": "x", "metadata": [1]}\n',
        b'{"id": "f", "text": "x", "metadata": {"source.file": {"y": NaN}}}\n',
        b'{"id": 1.5, "text": "x"}\n',
        b'{"_id": 7, "text": "beir style", "metadata": {"lang": "en"}}',  # no final newline
    ]
    _write(path, lines)
    records = list(read_jsonl_records(path))
    assert [r.line for r in records] == [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]  # blank line 2 is no record
    starts = [sum(map(len, lines[:i])) for i in range(len(lines))]
    assert [r.offset for r in records] == [s for i, s in enumerate(starts) if i != 1]
    assert records[-1].end == path.stat().st_size
    first = records[0]
    assert (
        first.document == Document(id="a", text="T\nbody", metadata={"year": 2020})
        and first.raw == lines[0].decode().strip()
    )
    reasons = {r.line: r.error for r in records[1:-1]}
    assert reasons[3] == "field 'text' must be a string, got int 5"
    assert reasons[4] == "missing field 'text'"
    assert reasons[5] == "missing field 'id' (or '_id')"
    assert reasons[6].startswith("invalid JSON at column 2")
    assert reasons[7] == "expected a JSON object, got list"
    assert reasons[8].startswith("invalid UTF-8 at byte 24 of line 8")
    assert reasons[9] == "field 'metadata' must be an object, got list [1]"
    assert "metadata['source.file']['y']=nan is not a finite number" in reasons[10]  # any JSON, but JSON
    assert reasons[11] == "field 'id' must be a string or an integer, got float 1.5"
    assert records[6].raw == '{"id": "d", "text": "caf\\xe9"}'  # raw kept, undecodable byte escaped
    assert [r.doc_id for r in records[1:4]] == ["b", "c", None]
    assert records[-1].document == Document(id="7", text="beir style", metadata={"lang": "en"})


def test_jsonl_resumes_at_a_cursor_and_skips_a_bom(tmp_path):
    path = tmp_path / "in.jsonl"
    _write(
        path, [b'\xef\xbb\xbf{"id": "a", "text": "x"}\n', b'{"id": "b", "text": "y"}\n', b'{"id": "c", "text": "z"}\n']
    )
    records = list(read_jsonl_records(path))
    assert [r.document.id for r in records] == ["a", "b", "c"]
    rest = list(FileSource(path).records(Cursor.after(records[0])))
    assert [(r.line, r.document.id, r.offset) for r in rest] == [
        (2, "b", records[1].offset),
        (3, "c", records[2].offset),
    ]


def test_strict_read_jsonl_names_file_line_and_field(tmp_path):
    path = tmp_path / "in.jsonl"
    _write(path, [b'{"id": "a", "text": "x"}\n', b'{"id": "b", "text": null}\n'])
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'text' must be a string, got NoneType None"):
        list(read_jsonl(path))


def test_csv_rows_numbered_with_metadata_column_and_bad_rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"id,title,text,lang,metadata\n"
        b'a,T,"multi\nline",en,"{""year"": 2020}"\n'
        b"b,,plain,,\n"
        b"c,,x,en,{oops\n"
        b"d,,caf\xe9,en,\n"
        b"e,,x,en,,extra\n"
        b",,no id,en,\n"
    )
    records = list(FileSource(path).records())
    assert [r.line for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].document == Document(id="a", text="T\nmulti\nline", metadata={"year": 2020, "lang": "en"})
    assert records[1].document == Document(id="b", text="plain")
    assert records[2].error.startswith("column 'metadata': invalid JSON")
    assert records[3].error == "invalid UTF-8 in column 'text'"
    assert records[4].error == "row has 1 more cells than the header"
    assert records[5].error == "field 'id' is empty"
    assert [r.line for r in FileSource(path).records(Cursor(line=4))] == [5, 6]


def test_parquet_rows_and_resume(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    table = pa.table({"id": ["a", "b", None, "d"], "text": ["x", "y", "z", None], "year": [1, None, 3, 4]})
    pq.write_table(table, path, row_group_size=2)
    source = FileSource(path)
    records = list(source.records())
    assert records[0].document == Document(id="a", text="x", metadata={"year": 1})
    assert records[1].document == Document(id="b", text="y")  # null metadata cell left out
    assert records[2].error == "field 'id' must be a string or an integer, got NoneType None"
    assert records[3].error == "field 'text' must be a string, got NoneType None"
    assert json.loads(records[0].raw) == {"id": "a", "text": "x", "year": 1}
    assert [r.line for r in source.records(Cursor(line=3))] == [4]
    assert source.progress() == (4, "doc")


def test_documents_and_dicts_from_memory():
    records = list(document_records([Document(id="a", text="x"), {"id": "b", "text": "y"}, {"id": "c"}, 42]))
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert records[0].document.id == "a" and records[1].document.id == "b"
    assert records[2].error == "missing field 'text'" and records[2].doc_id == "c"
    assert records[3].error == "item 4: expected a Document or a mapping, got int"


def test_parse_row_keeps_extra_fields_as_metadata_and_checks_title():
    doc, error, _ = parse_row({"id": 3, "text": "x", "lang": "en", "metadata": {"year": 1}})
    assert error is None and doc == Document(id="3", text="x", metadata={"year": 1, "lang": "en"})
    assert parse_row({"id": "a", "text": "x", "title": 5})[1] == "field 'title' must be a string, got int 5"
    assert parse_row({"id": True, "text": "x"})[1] == "field 'id' must be a string or an integer, got bool True"


def test_unknown_suffix_and_missing_file_are_configuration_errors(tmp_path):
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(ConfigurationError, match=r"suffix '.txt'"):
        FileSource(tmp_path / "x.txt")
    with pytest.raises(ConfigurationError, match="does not exist"):
        FileSource(tmp_path / "nope.jsonl")
    assert FileSource(tmp_path / "x.txt", format="jsonl").format.value == "jsonl"
