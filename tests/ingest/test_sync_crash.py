"""Real processes: `python -m vecbridge sync --cleanup full` of a changed corpus (edited, re-chunked
into fewer chunks, deleted and added documents) SIGKILLed while it writes, run again and SIGKILLed
while it deletes stale chunks and removed documents, then run to the end: the store must hold
exactly the changed corpus (no stale chunk, no missing document, nothing deleted that the source
holds), on a Milvus Lite file, on Milvus Lite's server and on the Elasticsearch emulator (noida-db).
Sparse-only (BM25) so the corpus encodes in seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vecbridge.config import open_index
from vecbridge.ingest import Chunker
from vecbridge.schemas import Document, Settings
from vecbridge.testing.fixtures import milvus_lite_server_factory  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
N, BATCH, CHUNK = 3000, 128, 6

pytestmark = pytest.mark.slow


def _words(i: int, n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}w{j}" for j in range(n))


def _corpora() -> tuple[list[dict], list[dict]]:
    """v1, and v2: every 10th document edited into fewer chunks, every 10th (+3) deleted, 10 % added."""
    v1 = [{"id": f"d{i}", "text": _words(i, 6 + (i % 4) * 6, "a"), "metadata": {"n": i}} for i in range(N)]
    v2 = []
    for row in v1:
        i = row["metadata"]["n"]
        if i % 10 == 3:
            continue
        v2.append({**row, "text": _words(i, 4, "b")} if i % 10 == 0 else row)
    v2 += [{"id": f"new{i}", "text": _words(i, 15, "c"), "metadata": {"n": -i}} for i in range(N // 10)]
    return v1, v2


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECBRIDGE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        VECBRIDGE_DENSE_MODEL="none",
        VECBRIDGE_SPARSE_MODEL="bm25",
        VECBRIDGE_STATE_DIR=str(tmp / "state"),
        VECBRIDGE_COLLECTION="synced",
        VECBRIDGE_LOG_LEVEL="INFO",
        VECBRIDGE_INGEST_BATCH_SIZE=str(BATCH),
    )
    env.update(extra)
    return env


def _sync(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = tmp / f"run{len(list(tmp.glob('run*.log')))}.log"
    args = [
        sys.executable,
        "-m",
        "vecbridge",
        "sync",
        "docs.jsonl",
        "--no-progress",
        "--cleanup",
        "full",
        "--source-key",
        "docs",
        "--chunk-tokens",
        str(CHUNK),
    ]
    return subprocess.Popen(args, cwd=tmp, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT), log


def _kill_when(proc: subprocess.Popen, log: Path, marker: str) -> str:
    deadline = time.monotonic() + 180
    while marker not in (log.read_text() if log.exists() else ""):
        assert proc.poll() is None, f"sync ended before {marker!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {marker!r} within 180 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    return log.read_text()


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        **{
            k[len("VECBRIDGE_") :].lower(): v
            for k, v in env.items()
            if k.startswith("VECBRIDGE_") and k != "VECBRIDGE_LOG_LEVEL"
        }
    )


def _expected(rows: list[dict]) -> dict[str, tuple[str, str]]:
    chunker = Chunker(CHUNK)
    docs = (Document(id=r["id"], text=r["text"], metadata=r["metadata"]) for r in rows)
    return {c.id: (c.text, c.metadata["parent_id"]) for d in docs for c in chunker.split(d)}


def _held(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    index = open_index(_settings(env))
    try:
        held = {d.id: (d.text, d.metadata["vb_parent"]) for d in index.iterate()}
        assert index.count() == len(held)
        return held
    finally:
        index.connector.close()


def _crash_twice_then_finish(tmp: Path, env: dict[str, str]) -> None:
    v1, v2 = _corpora()
    _write(tmp / "docs.jsonl", v1)
    first, log = _sync(tmp, env)
    assert first.wait(timeout=600) == 0, log.read_text()
    assert _held(env) == _expected(v1)
    _write(tmp / "docs.jsonl", v2)
    killed, log = _sync(tmp, env)
    _kill_when(killed, log, "acknowledged batch 3 ")  # mid-write: some changes written, none deleted
    assert _held(env) not in (_expected(v1), _expected(v2))
    again, log = _sync(tmp, env)
    _kill_when(again, log, "deleting ")  # the stale-chunk / cleanup phase
    last, log = _sync(tmp, env)
    assert last.wait(timeout=600) == 0, log.read_text()
    summary = log.read_text()
    assert "failed: 0  skipped: 0" in summary, summary
    assert _held(env) == _expected(v2)
    rerun, log = _sync(tmp, env)  # and now it is in sync: nothing to do
    assert rerun.wait(timeout=600) == 0, log.read_text()
    assert f"added: 0  updated: 0  unchanged: {len(v2)}  deleted: 0" in log.read_text()


def test_sigkill_mid_sync_on_a_milvus_lite_file(tmp_path):
    pytest.importorskip("milvus_lite")
    _crash_twice_then_finish(tmp_path, _env(tmp_path, VECBRIDGE_BACKEND="milvus", VECBRIDGE_URI=str(tmp_path / "s.db")))


def test_sigkill_mid_sync_on_the_milvus_lite_server(tmp_path, milvus_lite_server_factory):
    pytest.importorskip("milvus_lite")
    server = milvus_lite_server_factory()
    _crash_twice_then_finish(tmp_path, _env(tmp_path, VECBRIDGE_BACKEND="milvus", VECBRIDGE_URI=server.uri))


def test_sigkill_mid_sync_on_the_elasticsearch_emulator(tmp_path):
    pytest.importorskip("elasticsearch")
    from vecbridge.testing.es_emulator import noida_binary, noida_elasticsearch

    if noida_binary() is None:
        pytest.skip("noida-db emulator not installed")
    data = tmp_path / "noida"
    data.mkdir()
    with noida_elasticsearch(data) as url:
        _crash_twice_then_finish(tmp_path, _env(tmp_path, VECBRIDGE_BACKEND="elasticsearch", VECBRIDGE_ES_URL=url))
