"""Real processes: the store goes down under a running `python -m vecbridge ingest`.

Stores: Milvus Lite 2.5.1 run as a server process (``vecbridge.testing.milvus_server``, ``uri=http://...``),
SIGKILLed; the noida-db Elasticsearch EMULATOR (not a real Elasticsearch) on its own port, stopped
with SIGINT (on SIGKILL the emulator drops its last ~1 s of acknowledged writes by design, unlike a
real server, so "nothing lost" could not hold). To land the outage mid-run on a loaded machine, the
ingest process is paused (SIGSTOP) after its first checkpoint, the store is taken down, and the
ingest resumed (SIGCONT): it meets the dead store at whatever point it was.

- back within the retry budget -> the run completes: count == input, every id once,
  ``read == written + failed + skipped``, store count == the report;
- kept down -> one ``error:`` line (no driver tracebacks), exit 1, checkpoint intact; the store
  restarted, ``--resume`` completes it without duplicates.

Plus two ingesting processes against one Milvus Lite server. Sparse-only (BM25) for speed (each test
~5-12 s on the shared 2-core machine, so not marked slow); every
subprocess wait is bounded and the fixtures stop every server and ingest process, also on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vecbridge.config import open_index
from vecbridge.schemas import Settings
from vecbridge.testing.es_emulator import EmulatorProcess, noida_binary
from vecbridge.testing.fixtures import milvus_lite_server_factory as milvus_server_factory  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
N, BATCH = 3000, 50
RUN_TIMEOUT = 240


def _corpus(path: Path, n: int = N, prefix: str = "d") -> Path:
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"{prefix}{i}", "text": f"document {i} about topic {i % 97}"}) + "\n")
    return path


@dataclass
class Run:
    """One ``vecbridge ingest`` subprocess; stdout and stderr go to files."""

    proc: subprocess.Popen
    out: Path
    err: Path

    def wait(self, timeout: float = RUN_TIMEOUT) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=timeout)
        return code, self.out.read_text(errors="replace"), self.err.read_text(errors="replace")


@pytest.fixture
def ingest_runs(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """``start(env, file, *args)`` runs ``vecbridge ingest FILE --no-progress ARGS`` in tmp_path; any
    process still alive at teardown is continued and SIGKILLed."""
    runs: list[Run] = []

    def start(env: dict[str, str], file: str = "docs.jsonl", *args: str) -> Run:
        name = f"run{len(runs)}"
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vecbridge", "ingest", file, "--no-progress", *args],
                cwd=tmp_path,
                env=env,
                stdout=stdout,
                stderr=stderr,
            )
        runs.append(Run(proc, out, err))
        return runs[-1]

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGCONT)
            run.proc.kill()
            run.proc.wait(timeout=30)


@dataclass
class Store:
    """A store process the test may take down (``down``) and bring back (``up``)."""

    name: str
    env: dict[str, str]
    down: Callable[[], None]
    up: Callable[[], object]


@pytest.fixture(params=["milvus-lite-server", "es-emulator"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "milvus-lite-server":
        pytest.importorskip("milvus_lite")
        server = request.getfixturevalue("milvus_server_factory")()  # stopped by the factory's teardown
        yield Store("milvus", {"VECBRIDGE_BACKEND": "milvus", "VECBRIDGE_URI": server.uri}, server.kill, server.start)
        return
    pytest.importorskip("elasticsearch")
    if noida_binary() is None:
        pytest.skip("noida-db (Elasticsearch emulator) not installed")
    workdir = tmp_path / "noida"
    workdir.mkdir()
    emulator = EmulatorProcess(workdir).start()
    try:
        # SIGINT, not SIGKILL: see the module docstring
        yield Store(
            "elasticsearch",
            {"VECBRIDGE_BACKEND": "elasticsearch", "VECBRIDGE_ES_URL": emulator.url},
            emulator.stop,
            emulator.start,
        )
    finally:
        emulator.stop()


def _env(store: Store, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECBRIDGE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        VECBRIDGE_DENSE_MODEL="none",
        VECBRIDGE_SPARSE_MODEL="bm25",
        VECBRIDGE_COLLECTION="outage",
        VECBRIDGE_INGEST_BATCH_SIZE=str(BATCH),
        **store.env,
        **extra,
    )
    return env


def _checkpoint(tmp: Path, file: str = "docs.jsonl", collection: str = "outage") -> Path:
    return tmp / f"{file}.{collection}.checkpoint.json"


def _outage_after_first_checkpoint(run: Run, checkpoint: Path, store: Store) -> dict:
    """Pause the ingest after its first checkpoint, take the store down, let the ingest go on."""
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert run.proc.poll() is None, f"ingest ended before its first checkpoint: {run.err.read_text()}"
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.01)
    run.proc.send_signal(signal.SIGSTOP)
    try:
        saved = json.loads(checkpoint.read_text())
        assert run.proc.poll() is None and not saved["complete"] and 0 < saved["line"] < N, (
            "the run finished before the outage"
        )
        store.down()
    finally:
        run.proc.send_signal(signal.SIGCONT)
    return saved


def _check_store(env: dict[str, str], ids: list[str]) -> None:
    """The store holds exactly ``ids``, each once, and they are searchable."""
    settings = Settings(**{k[len("VECBRIDGE_") :].lower(): v for k, v in env.items() if k.startswith("VECBRIDGE_")})
    index = open_index(settings)
    try:
        assert index.count() == len(ids)
        found = [d.id for start in range(0, len(ids), 1000) for d in index.get(ids[start : start + 1000])]
        assert len(found) == len(ids) and set(found) == set(ids)  # every document, once
        assert index.search("topic 42", k=5, mode="sparse"), "nothing searchable"
    finally:
        index.connector.close()


def _summary_line(n: int) -> str:
    return f"read: {n}  written: {n}  failed: 0  skipped: 0"


def test_store_back_within_the_retry_budget_loses_nothing(store: Store, tmp_path: Path, ingest_runs) -> None:
    _corpus(tmp_path / "docs.jsonl")
    env = _env(store, VECBRIDGE_RETRY_ATTEMPTS="20", VECBRIDGE_RETRY_MAX_WAIT="90")
    run = ingest_runs(env)
    _outage_after_first_checkpoint(run, _checkpoint(tmp_path), store)
    time.sleep(2.0)  # the ingest meets the dead store and retries
    store.up()
    code, out, err = run.wait()
    assert code == 0, out + err
    assert "retrying" in err, f"the outage was never seen by the ingest: {err}"
    assert _summary_line(N) in out, out  # read == written + failed + skipped, nothing failed
    assert "Traceback" not in out + err
    assert json.loads(_checkpoint(tmp_path).read_text())["complete"]
    _check_store(env, [f"d{i}" for i in range(N)])  # store count == the report's written


def test_store_kept_down_ends_with_one_error_then_resume_completes(store: Store, tmp_path: Path, ingest_runs) -> None:
    _corpus(tmp_path / "docs.jsonl")
    env = _env(store, VECBRIDGE_RETRY_ATTEMPTS="4", VECBRIDGE_RETRY_MAX_WAIT="3")
    checkpoint = _checkpoint(tmp_path)
    run = ingest_runs(env)
    _outage_after_first_checkpoint(run, checkpoint, store)
    started = time.monotonic()
    code, out, err = run.wait(timeout=120)
    elapsed = time.monotonic() - started
    assert code == 1, out + err
    assert elapsed < 60, f"gave up after {elapsed:.0f} s with a 3 s budget per call"
    # one clear error line; the only other lines are one-line retry warnings, no driver tracebacks
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "unavailable" in errors[0] and "--resume" in errors[0] and "acknowledged through line" in errors[0]
    others = [line for line in (out + err).splitlines() if line.strip() and not line.startswith("error:")]
    assert all("retrying" in line or "failed for" in line for line in others), others
    assert len(others) <= 30 and all(len(line) < 600 for line in others), others
    assert "Traceback" not in out + err
    saved = json.loads(checkpoint.read_text())  # intact: the last fully acknowledged batch
    assert not saved["complete"] and 0 < saved["line"] < N and saved["line"] % BATCH == 0, saved
    assert saved["totals"] == {"read": saved["line"], "written": saved["line"], "failed": 0, "skipped": 0}
    assert f"acknowledged through line {saved['line']}" in errors[0]

    store.up()
    code, out, err = ingest_runs(env, "docs.jsonl", "--resume").wait()
    assert code == 0, out + err
    assert f"resumed after line {saved['line']}" in out, out
    assert "whole file: " + _summary_line(N) in out, out
    _check_store(env, [f"d{i}" for i in range(N)])


def _both_mid_run(runs: dict[str, Run], checkpoints: list[Path]) -> bool:
    """Whether, at one moment, both runs had acknowledged a batch and neither was complete."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while any(run.proc.poll() is None for run in runs.values()) and time.monotonic() < deadline:
        try:
            states = [json.loads(path.read_text()) for path in checkpoints]
        except (FileNotFoundError, ValueError):
            states = []
        if len(states) == len(checkpoints) and not any(state["complete"] for state in states):
            return True
        time.sleep(0.01)
    return False


def test_two_ingest_processes_share_one_milvus_lite_server(milvus_server_factory, tmp_path: Path, ingest_runs) -> None:
    pytest.importorskip("milvus_lite")
    server = milvus_server_factory()
    env = _env(Store("milvus", {"VECBRIDGE_BACKEND": "milvus", "VECBRIDGE_URI": server.uri}, server.kill, server.start))
    sizes = {"a": 500, "b": 2000, "c": 1500}
    for prefix, n in sizes.items():
        _corpus(tmp_path / f"{prefix}.jsonl", n, prefix)
    code, out, err = ingest_runs(env, "a.jsonl").wait()  # the first ingest creates the collection and its state
    assert code == 0, out + err
    runs = {p: ingest_runs(env, f"{p}.jsonl") for p in ("b", "c")}  # then two processes at once
    assert _both_mid_run(runs, [_checkpoint(tmp_path, f"{p}.jsonl") for p in runs]), "the two runs never overlapped"
    for prefix, run in runs.items():
        code, out, err = run.wait()
        assert code == 0, out + err
        assert _summary_line(sizes[prefix]) in out, out
    _check_store(env, [f"{p}{i}" for p, n in sizes.items() for i in range(n)])
