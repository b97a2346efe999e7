"""Real processes: `python -m vecbridge ingest` killed after its first checkpoint, then `--resume`.

Milvus Lite: SIGKILL (a crash). Elasticsearch EMULATOR (noida-db, not a real Elasticsearch): the
ingest process gets SIGINT (Ctrl-C: clean stop, exit 130, a message saying how to resume), and the
emulator itself is stopped with SIGINT and restarted on the same data before resuming (on SIGKILL
the emulator drops its last second of acknowledged writes by design, unlike a real server).
After the resume: count == input, every id retrievable once, re-encoding bounded by the pipeline.
Sparse-only (BM25) so 20,000 documents encode in seconds; BM25 statistics fitted by the first run
(kept in the store's state) must be reused by the resume.

Marked ``integration`` (docker/run-integration.sh): the same SIGKILL of the ingest process, then
``--resume``, against a real Elasticsearch (``VECBRIDGE_TEST_ES_URL``) and a real Milvus server
(``VECBRIDGE_TEST_MILVUS_URI``), each in a collection of its own that is dropped afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

import pytest

from vecbridge.config import open_connector, open_index
from vecbridge.ingest import pipeline_depth
from vecbridge.schemas import Settings

ROOT = Path(__file__).resolve().parents[2]
N, BATCH = 20_000, 256

pytestmark = pytest.mark.slow


def _corpus(path: Path) -> Path:
    with path.open("w") as handle:
        for i in range(N):
            handle.write(json.dumps({"id": f"d{i}", "text": f"document {i} marker{i} about topic {i % 97}"}) + "\n")
    return path


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECBRIDGE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        VECBRIDGE_DENSE_MODEL="none",
        VECBRIDGE_SPARSE_MODEL="bm25",
        VECBRIDGE_STATE_DIR=str(tmp / "state"),
        VECBRIDGE_COLLECTION="crash",
        VECBRIDGE_LOG_LEVEL="INFO",
        VECBRIDGE_INGEST_BATCH_SIZE=str(BATCH),
    )
    env.update(extra)
    return env


# ``python -m vecbridge`` with Python's Ctrl-C handler installed even when this process was started with
# SIGINT ignored (a background job of a non-interactive shell): the child would inherit the ignore, and
# Python then installs no KeyboardInterrupt handler (a CI run launched that way lost the Ctrl-C test).
CLI = [
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('vecbridge', run_name='__main__', alter_sys=True)",
]


def _ingest(tmp: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    log = (tmp / f"run{len(list(tmp.glob('run*.log')))}.log").open("wb")
    return subprocess.Popen(
        [*CLI, "ingest", "docs.jsonl", "--no-progress", *args], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _stop_after_first_checkpoint(proc: subprocess.Popen, checkpoint: Path, sig: int) -> int:
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert proc.poll() is None, "ingest ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    proc.send_signal(sig)
    return proc.wait(timeout=120)


def _last_encoded_line(log: str) -> int:
    return max(int(m) for m in re.findall(r"encoded batch \d+ \(\d+ documents\) through line (\d+)", log))


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        **{
            k[len("VECBRIDGE_") :].lower(): v
            for k, v in env.items()
            if k.startswith("VECBRIDGE_") and k != "VECBRIDGE_LOG_LEVEL"
        }
    )


def _state_digest(env: dict[str, str]) -> str:
    """Digest of the collection's state as the store holds it (models, spec, BM25 statistics)."""
    settings = _settings(env)
    connector = open_connector(settings)
    try:
        state = connector.read_state(settings.collection)
    finally:
        connector.close()
    assert state is not None, "the first run left no state in the store"
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _crash_and_resume(tmp: Path, env: dict[str, str], sig: int, between=lambda: None) -> tuple[int, str]:
    _corpus(tmp / "docs.jsonl")
    checkpoint = tmp / f"docs.jsonl.{env['VECBRIDGE_COLLECTION']}.checkpoint.json"
    first = _ingest(tmp, env)
    code = _stop_after_first_checkpoint(first, checkpoint, sig)
    killed = (tmp / "run0.log").read_text()
    saved = json.loads(checkpoint.read_text())
    assert 0 < saved["line"] < N and not saved["complete"], "the run finished before it could be stopped"
    env = between() or env
    stats = _state_digest(env)
    second = _ingest(tmp, env, "--resume")
    assert second.wait(timeout=300) == 0, (tmp / "run1.log").read_text()
    resumed = (tmp / "run1.log").read_text()
    assert f"resumed after line {saved['line']}" in resumed
    assert f"read: {N - saved['line']}  written: {N - saved['line']}  failed: 0  skipped: 0" in resumed
    assert f"whole file: read: {N}  written: {N}  failed: 0  skipped: 0" in resumed
    reencoded = _last_encoded_line(killed) - saved["line"]
    assert 0 <= reencoded <= pipeline_depth() * BATCH, reencoded
    assert _state_digest(env) == stats  # the resume reused the BM25 statistics of the first run
    _check_store(env)
    return code, killed


def _check_store(env: dict[str, str]) -> None:
    index = open_index(_settings(env))
    try:
        assert index.count() == N
        ids = [f"d{i}" for i in range(N)]
        found = [d.id for start in range(0, N, 1000) for d in index.get(ids[start : start + 1000])]
        assert sorted(found) == sorted(ids)  # every document once
        for i in (0, 7_777, N - 1):
            assert index.search(f"marker{i}", k=1, mode="sparse")[0].id == f"d{i}"
    finally:
        index.connector.close()


def test_sigkill_then_resume_on_milvus_lite(tmp_path):
    pytest.importorskip("milvus_lite")
    env = _env(tmp_path, VECBRIDGE_BACKEND="milvus", VECBRIDGE_URI=str(tmp_path / "crash.db"))
    code, killed = _crash_and_resume(tmp_path, env, signal.SIGKILL)
    assert code == -signal.SIGKILL and "written:" not in killed  # it really died mid-run


def test_ctrl_c_then_resume_on_the_elasticsearch_emulator(tmp_path):
    pytest.importorskip("elasticsearch")
    from vecbridge.testing.es_emulator import noida_binary, noida_elasticsearch

    if noida_binary() is None:
        pytest.skip("noida-db emulator not installed")
    data = tmp_path / "noida"
    data.mkdir()
    first = noida_elasticsearch(data)
    url = first.__enter__()
    second = None
    try:
        env = _env(tmp_path, VECBRIDGE_BACKEND="elasticsearch", VECBRIDGE_ES_URL=url)

        def restart_emulator() -> dict[str, str]:
            nonlocal second
            first.__exit__(None, None, None)  # SIGINT: the emulator flushes what it acknowledged
            second = noida_elasticsearch(data)
            return {**env, "VECBRIDGE_ES_URL": second.__enter__()}

        code, stopped = _crash_and_resume(tmp_path, env, signal.SIGINT, restart_emulator)
        assert code == 130, stopped
        assert "interrupted: acknowledged through line" in stopped and "rerun with --resume" in stopped
        assert "Traceback" not in stopped
    finally:
        (second or first).__exit__(None, None, None)


def _external_store(tmp: Path, **backend: str) -> dict[str, str]:
    return _env(tmp, VECBRIDGE_COLLECTION=f"crash_{uuid.uuid4().hex[:10]}", **backend)


def _drop(env: dict[str, str]) -> None:
    settings = _settings(env)
    connector = open_connector(settings)
    try:
        connector.drop_collection(settings.collection)  # and its state
    finally:
        connector.close()


def _sigkill_then_resume_on(env: dict[str, str], tmp: Path) -> None:
    try:
        code, killed = _crash_and_resume(tmp, env, signal.SIGKILL)
        assert code == -signal.SIGKILL and "written:" not in killed  # it really died mid-run
    finally:
        _drop(env)


def _external(name: str) -> Optional[str]:
    return os.environ.get(name) or None


@pytest.mark.integration
@pytest.mark.skipif(
    not _external("VECBRIDGE_TEST_ES_URL"),
    reason="needs a real Elasticsearch: set VECBRIDGE_TEST_ES_URL (docker/run-integration.sh)",
)
def test_sigkill_then_resume_on_a_real_elasticsearch(tmp_path):
    pytest.importorskip("elasticsearch")
    auth = {
        f"VECBRIDGE_ES_{k}": os.environ[f"VECBRIDGE_TEST_ES_{k}"]
        for k in ("USERNAME", "PASSWORD")
        if os.environ.get(f"VECBRIDGE_TEST_ES_{k}")
    }
    env = _external_store(
        tmp_path, VECBRIDGE_BACKEND="elasticsearch", VECBRIDGE_ES_URL=os.environ["VECBRIDGE_TEST_ES_URL"], **auth
    )
    _sigkill_then_resume_on(env, tmp_path)


@pytest.mark.integration
@pytest.mark.skipif(
    not _external("VECBRIDGE_TEST_MILVUS_URI"),
    reason="needs a real Milvus server: set VECBRIDGE_TEST_MILVUS_URI (docker/run-integration.sh)",
)
def test_sigkill_then_resume_on_a_real_milvus_server(tmp_path):
    token = (
        {"VECBRIDGE_TOKEN": os.environ["VECBRIDGE_TEST_MILVUS_TOKEN"]}
        if os.environ.get("VECBRIDGE_TEST_MILVUS_TOKEN")
        else {}
    )
    env = _external_store(
        tmp_path, VECBRIDGE_BACKEND="milvus", VECBRIDGE_URI=os.environ["VECBRIDGE_TEST_MILVUS_URI"], **token
    )
    _sigkill_then_resume_on(env, tmp_path)
