"""Readers (JSONL, CSV, Parquet) on hostile input: deep nesting, random bytes, random types, a BOM.
Every record becomes a document or a dead-letter row naming the reason; nothing raises; the
accounting balances (``read == written + failed + skipped``) and the store holds exactly what was written."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.ingest import ingest
from vecbridge.ingest.records import read_csv_records, read_jsonl_records, read_parquet_records
from vecbridge.schemas import ConfigurationError

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _index() -> HybridIndex:
    return HybridIndex.create(InMemoryConnector(), "readers", dense=BagOfWordsEncoder())


def _balanced(index: HybridIndex, report, dead_letter=None) -> None:
    assert report.read == report.written + len(report.failed) + report.skipped
    assert index.count() == report.written
    if dead_letter is not None and report.failed:
        rows = [json.loads(line) for line in dead_letter.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == len(report.failed)


@pytest.mark.parametrize("levels", [100, 3000, 100_000])
def test_a_deep_jsonl_line_is_a_dead_letter_row_and_the_run_goes_on(tmp_path, levels):
    path, dead = tmp_path / "in.jsonl", tmp_path / "dead.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "first"}),
        '{"id": "deep", "text": "x", "metadata": {"k": ' + deep(levels) + "}}",
        deep(levels),
        '{"id": "b", "text": "last"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = _index()
    report = ingest(index, path, dead_letter=dead)
    assert (report.read, report.written) == (4, 2)
    reasons = list(report.failed.values())
    assert "nests deeper" in reasons[0] and ("nests deeper" in reasons[1] or "expected a JSON object" in reasons[1])
    _balanced(index, report, dead)


@pytest.mark.parametrize("levels", [100, 3000])
def test_a_deep_csv_metadata_cell_is_a_dead_letter_row(tmp_path, levels):
    path = tmp_path / "in.csv"
    path.write_text(f'id,text,metadata\na,first,{{}}\ndeep,x,"{{""k"": {deep(levels)}}}"\nb,last,\n', encoding="utf-8")
    index = _index()
    report = ingest(index, path)
    assert (report.read, report.written, list(report.failed)) == (3, 2, ["deep"])
    assert "nests deeper" in report.failed["deep"]
    _balanced(index, report)


def test_csv_saved_with_a_utf8_bom_reads_its_first_header(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,text,lang\na,first,en\nb,second,de\n".encode("utf-8"))
    records = list(read_csv_records(path))
    assert [r.error for r in records] == [None, None]
    assert [(r.document.id, r.document.metadata) for r in records] == [("a", {"lang": "en"}), ("b", {"lang": "de"})]
    index = _index()
    assert ingest(index, path).written == 2


def test_a_new_bm25_collection_with_no_valid_document_names_the_file_and_the_reason(tmp_path):
    from vecbridge.ingest import FileSource

    path = tmp_path / "none.csv"
    path.write_text("identifier,text\na,first\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        list(FileSource(path).texts())
    message = str(err.value)
    assert "none.csv" in message and "missing field 'id'" in message and "line 1" in message


# ---- properties ---------------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
ROWS = (
    st.dictionaries(st.sampled_from(["id", "_id", "text", "title", "metadata", "lang", "x"]), JSON_VALUES, max_size=5)
    | JSON_VALUES
)


@PROPERTY
@given(
    lines=st.lists(
        st.binary(max_size=40)
        | ROWS.map(lambda r: json.dumps(r).encode())
        | st.integers(1, 3000).map(lambda n: deep(n).encode()),
        max_size=8,
    )
)
def test_random_jsonl_lines_never_raise_and_balance(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("jsonl") / "in.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    records = list(read_jsonl_records(path))
    assert all((r.document is None) != (r.error is None) for r in records)
    index = _index()
    _balanced(index, ingest(index, path))


CELLS = st.text(max_size=12) | JSON_VALUES.map(json.dumps) | st.integers(1, 3000).map(deep)


@PROPERTY
@given(
    header=st.lists(
        st.sampled_from(["id", "text", "metadata", "title", "lang", "\ufeffid", ""]), min_size=1, max_size=5
    ),
    rows=st.lists(st.lists(CELLS, max_size=6), max_size=6),
    bom=st.booleans(),
)
def test_random_csv_never_raises_and_balances(tmp_path_factory, header, rows, bom):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8", "surrogatepass"))
    records = list(read_csv_records(path))
    assert all((r.document is None) != (r.error is None) for r in records)
    index = _index()
    _balanced(index, ingest(index, path))


COLUMNS = st.sampled_from(
    [
        st.none() | st.text(max_size=8),
        st.none() | st.integers(-5, 5),
        st.none() | st.floats(),
        st.booleans(),
        st.lists(st.integers(0, 3), max_size=3),
        st.none() | st.binary(max_size=4),
    ]
)


@PROPERTY
@given(
    data=st.data(),
    names=st.lists(
        st.sampled_from(["id", "_id", "text", "title", "year", "metadata"]), min_size=1, max_size=4, unique=True
    ),
    n=st.integers(1, 6),
    raw=st.binary(max_size=64),
    random_bytes=st.booleans(),
)
def test_random_parquet_never_raises_and_balances(tmp_path_factory, data, names, n, raw, random_bytes):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("parquet") / "in.parquet"
    index = _index()
    if random_bytes:
        path.write_bytes(raw)
        with pytest.raises(ConfigurationError, match="in.parquet"):  # an unreadable file is refused whole, named
            ingest(index, path)
        assert index.count() == 0
        return
    table = pa.table(
        {name: pa.array(data.draw(st.lists(data.draw(COLUMNS), min_size=n, max_size=n))) for name in names}
    )
    pq.write_table(table, path)
    records = list(read_parquet_records(path))
    assert all((r.document is None) != (r.error is None) for r in records)
    _balanced(index, ingest(index, path))
