"""Ray Data ingestion (local Ray, Milvus Lite served on 127.0.0.1) against the in-process path:
same end state, same dead letters and accounting, no loss or duplicate when an actor dies."""

import itertools
import json
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("milvus_lite")

import ray  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from vecbridge.config import open_index  # noqa: E402
from vecbridge.distributed import (  # noqa: E402
    RayOptions,
    ingest_ray,
    worker as worker_module,  # noqa: E402
)
from vecbridge.ingest import FileSource, ingest  # noqa: E402
from vecbridge.schemas import ConfigurationError, Settings, StoreUnavailableError  # noqa: E402

pytestmark = pytest.mark.slow

SCIFACT = Path(__file__).resolve().parents[2] / "../shared/data/scifact/corpus.jsonl"
BAD_INPUT = Path(__file__).parents[1] / "ingest" / "data" / "bad_input.jsonl"
GATE = "vecbridge-test-gate"


def _subset(tmp_path: Path, n: int) -> Path:
    if not SCIFACT.is_file():
        pytest.skip(f"BEIR SciFact not found at {SCIFACT} (expected ../shared/data/scifact from the repo root)")
    path = tmp_path / "scifact.jsonl"
    with SCIFACT.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(src, n))
    return path


def _settings(server, collection: str, dense: str = "none", **extra) -> Settings:
    return Settings(
        backend="milvus",
        uri=server.uri,
        collection=collection,
        dense_model=dense,
        sparse_model="bm25",
        device="cpu",
        **extra,
    )


def _in_process(settings: Settings, path: Path, **kwargs):
    source = FileSource(path)
    index = open_index(
        settings,
        kwargs.pop("filterable", None),
        corpus=lambda: (r.document.text for r in source.records() if r.document is not None),
    )
    try:
        return ingest(index, source, **kwargs)
    finally:
        index.connector.close()


def _stored(server, collection: str) -> dict:
    """id -> (dense, sparse) as the server returns them (every row)."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=server.uri, alias=f"test-{collection}")
    try:
        fields = [f["name"] for f in client.describe_collection(collection)["fields"]]
        wanted = ["id"] + [f for f in ("dense", "sparse") if f in fields]
        rows = client.query(collection, filter='id != ""', output_fields=wanted, limit=16384)
    finally:
        client.close()
    return {r["id"]: (r.get("dense"), r.get("sparse")) for r in rows}


def _same_vectors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        (dense_a, sparse_a), (dense_b, sparse_b) = a[key], b[key]
        if dense_a is not None or dense_b is not None:
            np.testing.assert_allclose(
                np.asarray(dense_a, dtype=np.float64), np.asarray(dense_b, dtype=np.float64), atol=1e-6, err_msg=key
            )
        sa, sb = dict(sparse_a or {}), dict(sparse_b or {})
        assert sa.keys() == sb.keys(), key
        np.testing.assert_allclose([sa[i] for i in sa], [sb[i] for i in sa], atol=1e-6, err_msg=key)


def test_ray_ingest_ends_in_the_same_state_as_the_in_process_ingest(local_ray, milvus_server, tmp_path):
    path = _subset(tmp_path, 300)
    single = _in_process(_settings(milvus_server, "scifact_single", dense="all-MiniLM-L6-v2"), path)
    report = ingest_ray(
        _settings(milvus_server, "scifact_ray", dense="all-MiniLM-L6-v2"),
        path,
        options=RayOptions(workers=2, batch_size=32),
    )
    assert (report.read, report.written, report.failed, report.skipped) == (300, 300, {}, 0)
    assert (single.read, single.written) == (300, 300)
    expected_ids = {json.loads(line)["_id"] for line in path.read_text(encoding="utf-8").splitlines()}
    # BM25 statistics: exact on both (two actors appended their own entries), equal to each other
    stats = {name: _bm25_stats_and_reindex(milvus_server, name) for name in ("scifact_single", "scifact_ray")}
    assert stats["scifact_single"] == stats["scifact_ray"]
    # document vectors: BM25 length normalisation used the avgdl of when each batch was written, which
    # differs with the batch order; after reindex_sparse both hold the vectors of the final statistics
    stored_single, stored_ray = _stored(milvus_server, "scifact_single"), _stored(milvus_server, "scifact_ray")
    assert set(stored_ray) == expected_ids
    _same_vectors(stored_single, stored_ray)


def _bm25_stats_and_reindex(server, collection: str):
    index = open_index(_settings(server, collection, dense="all-MiniLM-L6-v2"))
    try:
        stats = index.corpus_stats.refresh(force=True)
        assert stats == index.corpus_stats.recount() and stats.n_docs == 300
        index.reindex_sparse()
        return stats
    finally:
        index.connector.close()


class Gate:
    """Records every batch write (by its first id) and holds the first writer until the test kills it."""

    def __init__(self) -> None:
        self.held = None
        self.writes: list[str] = []

    def arrive(self, handles: list, first_id: str) -> bool:
        self.writes.append(first_id)
        if self.held is None:
            self.held = (handles[0], first_id)
            return True
        return False

    def state(self) -> tuple:
        return self.held is not None, list(self.writes)

    def victim(self) -> tuple:
        return self.held


class HoldingWriter(worker_module.EncodeWriter):
    """The production actor, parked after its first write (written, not yet acknowledged)."""

    def write(self, batch):
        written = super().write(batch)
        gate = ray.get_actor(GATE)
        me = [ray.get_runtime_context().current_actor]
        if ray.get(gate.arrive.remote(me, batch.documents[0].id)):
            time.sleep(300)  # killed here by the test
        return written


def test_an_actor_killed_after_writing_is_retried_without_loss_or_duplicates(
    local_ray, milvus_server, tmp_path, monkeypatch
):
    path = _subset(tmp_path, 300)
    gate = ray.remote(Gate).options(name=GATE).remote()
    monkeypatch.setattr(worker_module, "EncodeWriter", HoldingWriter)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = ingest_ray(
                _settings(milvus_server, "killed"), path, options=RayOptions(workers=2, batch_size=25, max_restarts=2)
            )
        except BaseException as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not ray.get(gate.state.remote())[0]:
        assert time.monotonic() < deadline and thread.is_alive(), outcome
        time.sleep(0.2)
    victim, held_batch = ray.get(gate.victim.remote())
    ray.kill(victim, no_restart=False)
    thread.join(timeout=240)
    assert not thread.is_alive(), "ingestion did not finish after the actor was killed"
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    writes = Counter(ray.get(gate.state.remote())[1])
    ray.kill(gate)  # frees the name for the next test
    assert writes.pop(held_batch) == 2  # written, killed before acknowledging, retried by Ray
    assert set(writes.values()) == {1}  # every other batch written once
    assert (report.read, report.written, report.failed, report.skipped) == (300, 300, {}, 0)
    expected_ids = {json.loads(line)["_id"] for line in path.read_text(encoding="utf-8").splitlines()}
    assert set(_stored(milvus_server, "killed")) == expected_ids  # 300 rows, one per id


EXPECTED_LETTERS = {  # line -> (id, stage), as tests/ingest/test_cli_ingest.py
    7: (None, "read"),
    8: (None, "read"),
    9: ("dup", "duplicate"),
    11: ("num", "read"),
    12: (None, "read"),
    13: ("notext", "read"),
    14: ("meta", "read"),
    15: ("badyear", "write"),
    16: (None, "read"),
}


def test_bad_rows_end_in_the_dead_letters_as_in_process(local_ray, milvus_server, tmp_path):
    path = tmp_path / "bad.jsonl"
    shutil.copy(BAD_INPUT, path)
    single = _in_process(
        _settings(milvus_server, "bad_single"),
        path,
        filterable={"year": "int"},
        dead_letter=tmp_path / "single.dl.jsonl",
        batch_size=64,
    )
    report = ingest_ray(
        _settings(milvus_server, "bad_ray"),
        path,
        filterable={"year": "int"},
        dead_letter=tmp_path / "ray.dl.jsonl",
        options=RayOptions(workers=2, batch_size=64),
    )
    assert report.balanced and report.read == 22
    assert (report.written, len(report.failed), report.skipped) == (single.written, len(single.failed), single.skipped)
    assert report.failed == single.failed
    letters = [json.loads(line) for line in (tmp_path / "ray.dl.jsonl").read_text().splitlines()]
    assert {row["line"]: (row["id"], row["stage"]) for row in letters} == EXPECTED_LETTERS
    single_letters = [json.loads(line) for line in (tmp_path / "single.dl.jsonl").read_text().splitlines()]
    assert sorted(letters, key=lambda r: r["line"]) == single_letters
    assert len(_stored(milvus_server, "bad_ray")) == report.written


def test_parquet_row_groups_keep_line_numbers(local_ray, milvus_server, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [{"id": str(i), "text": f"passage number {i} about cells" if i % 7 else None} for i in range(1, 41)]
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=6)
    single = _in_process(_settings(milvus_server, "pq_single"), path, dead_letter=tmp_path / "s.jsonl")
    report = ingest_ray(
        _settings(milvus_server, "pq_ray"),
        path,
        dead_letter=tmp_path / "r.jsonl",
        options=RayOptions(workers=2, batch_size=8),
    )
    assert report.failed == single.failed and set(report.failed) == {str(i) for i in range(7, 41, 7)}
    assert (report.read, report.written) == (40, 35)
    letters = sorted(
        (json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()), key=lambda r: r["line"]
    )
    assert [r["line"] for r in letters] == [7, 14, 21, 28, 35]
    assert letters == [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    _same_vectors(_stored(milvus_server, "pq_single"), _stored(milvus_server, "pq_ray"))


def test_a_milvus_lite_file_is_refused_with_the_server_recipe(tmp_path):
    settings = Settings(backend="milvus", uri=str(tmp_path / "lite.db"), collection="c", dense_model="none")
    with pytest.raises(ConfigurationError, match=r"Milvus Lite file.*milvus_lite.server import Server"):
        ingest_ray(settings, BAD_INPUT)


def test_cli_engine_ray(local_ray, milvus_server, tmp_path, monkeypatch):
    from vecbridge.cli import app

    monkeypatch.chdir(tmp_path)
    for key, value in {
        "URI": milvus_server.uri,
        "COLLECTION": "cli_ray",
        "DENSE_MODEL": "none",
        "SPARSE_MODEL": "bm25",
        "BACKEND": "milvus",
    }.items():
        monkeypatch.setenv(f"VECBRIDGE_{key}", value)
    path = _subset(tmp_path, 40)
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(path), "--engine", "ray", "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "read: 40  written: 40  failed: 0  skipped: 0" in result.output
    refused = runner.invoke(app, ["ingest", str(path), "--engine", "ray", "--on-error", "stop"])
    assert refused.exit_code == 2 and "--on-error stop needs the in-process engine" in refused.output


def test_csv_dead_letters_as_in_process(local_ray, milvus_server, tmp_path):
    path = tmp_path / "rows.csv"
    lines = ["id,text"] + [f"{i},passage {i} on proteins" for i in range(1, 31)]
    lines[5] = "5,too,many,cells"
    lines[9] = ",no id"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    single = _in_process(_settings(milvus_server, "csv_single"), path, dead_letter=tmp_path / "s.jsonl")
    report = ingest_ray(
        _settings(milvus_server, "csv_ray"),
        path,
        dead_letter=tmp_path / "r.jsonl",
        options=RayOptions(workers=2, batch_size=8),
    )
    assert (report.read, report.written, report.failed) == (30, 28, single.failed)
    assert [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()] == [
        json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()
    ]
    _same_vectors(_stored(milvus_server, "csv_single"), _stored(milvus_server, "csv_ray"))


class PausingWriter(worker_module.EncodeWriter):
    """The production actor; the first batch written waits until the test has killed the store."""

    def write(self, batch):
        written = super().write(batch)
        gate = ray.get_actor(GATE)
        if ray.get(gate.arrive.remote([None], batch.documents[0].id)):
            deadline = time.monotonic() + 120
            while not ray.get(gate.released.remote()) and time.monotonic() < deadline:
                time.sleep(0.2)
        return written


class StoreGate(Gate):
    def __init__(self) -> None:
        super().__init__()
        self.go = False

    def release(self) -> None:
        self.go = True

    def released(self) -> bool:
        return self.go


def test_a_store_that_dies_mid_run_stops_with_ingest_error_and_a_rerun_finishes(
    local_ray, milvus_server_factory, tmp_path, monkeypatch
):
    from vecbridge.ingest import IngestError

    path = _subset(tmp_path, 200)
    server = milvus_server_factory("down.db")
    gate = ray.remote(StoreGate).options(name=GATE).remote()
    monkeypatch.setattr(worker_module, "EncodeWriter", PausingWriter)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = ingest_ray(
                _settings(server, "down"), path, options=RayOptions(workers=1, batch_size=20)
            )
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not ray.get(gate.state.remote())[0]:
        assert time.monotonic() < deadline and thread.is_alive(), outcome
        time.sleep(0.2)
    server.kill()
    gate.release.remote()
    thread.join(timeout=240)
    assert not thread.is_alive(), "ingestion did not stop after the store died"
    error = outcome.get("error")
    assert isinstance(error, IngestError), outcome
    assert "rerun the same command" in str(error) and error.report.balanced
    assert f"{StoreUnavailableError.__name__}: Milvus at {server.uri} unavailable" in str(error), str(error)
    assert error.report.written < 200
    ray.kill(gate)
    server.start()
    # The failed run's actors give their CPUs back once nothing references Ray's exception: true with
    # `-p no:logging` (checked: ray.available_resources() back to 2 CPUs), but pytest's log capture keeps
    # Ray Data's records (with exc_info) until the test ends, so the rerun asks for little CPU.
    monkeypatch.setattr(worker_module, "EncodeWriter", HoldingWriter.__mro__[1])  # the production actor
    rerun = RayOptions(workers=1, num_cpus=0.25, batch_size=20)
    report = ingest_ray(_settings(server, "down"), path, options=rerun)
    assert (report.read, report.written, report.failed) == (200, 200, {})
    assert len(_stored(server, "down")) == 200
