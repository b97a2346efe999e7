"""``QueryBatcher``: concurrent ``encode_queries`` calls coalesced into one encoder call. Every caller gets
exactly its own rows (equal to an unbatched call), errors reach the caller that caused them, and no
wait outlives its batch. Overlap is forced with events, never with sleeps; nothing here is timed
(bounded waits only turn a hang into a failure)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from vecbridge.encoders.batching import QueryBatcher
from vecbridge.schemas import ConfigurationError, Embeddings, SparseVector
from vecbridge.testing.encoders import BagOfWordsEncoder

BOUND = 60.0  # seconds a test waits before calling it a hang


class GatedEncoder(BagOfWordsEncoder):
    """``BagOfWordsEncoder`` whose calls wait for ``gate`` (when set) and fail on texts containing "bad"."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def encode_queries(self, texts):
        with self._lock:
            self.batches.append(list(texts))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(BOUND), "gate never opened"
        bad = [t for t in texts if "bad" in t]
        if bad:
            raise ValueError(f"cannot encode {bad[0]!r}")
        return self._encode(texts)


def _same(got: Embeddings, want: Embeddings) -> None:
    np.testing.assert_array_equal(got.dense, want.dense)
    assert [(v.indices.tolist(), v.values.tolist()) for v in got.sparse] == [
        (v.indices.tolist(), v.values.tolist()) for v in want.sparse
    ]


def _texts(caller: int) -> list[str]:
    """Caller ``caller``'s own queries: 1-3 texts that name it, so a row given to the wrong caller shows."""
    return [f"query {caller} part {j} word{caller % 7}" for j in range(1 + caller % 3)]


def _wait_for(condition, what: str) -> None:
    done = threading.Event()
    for _ in range(int(BOUND * 100)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(f"never saw {what}")


def _start_blocked_leader(batcher: QueryBatcher, encoder: GatedEncoder, texts: list[str]):
    """A thread whose call leads a batch and blocks inside the encoder until ``encoder.gate`` opens."""
    encoder.gate = threading.Event()
    result: dict = {}

    def lead() -> None:
        try:
            result["value"] = batcher.encode_queries(texts)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=lead)
    thread.start()
    assert encoder.entered.wait(BOUND)
    return thread, result


def test_overlapping_calls_are_coalesced_and_each_caller_gets_its_own_rows() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder)
    reference = BagOfWordsEncoder()
    leader, lead_result = _start_blocked_leader(batcher, encoder, _texts(0))
    with ThreadPoolExecutor(20) as pool:
        futures = {caller: pool.submit(batcher.encode_queries, _texts(caller)) for caller in range(1, 21)}
        _wait_for(lambda: len(batcher._waiting) == 20, "20 callers waiting")
        encoder.gate.set()
        results = {caller: future.result(timeout=BOUND) for caller, future in futures.items()}
    leader.join(BOUND)
    _same(lead_result["value"], reference.encode_queries(_texts(0)))
    for caller, got in results.items():
        _same(got, reference.encode_queries(_texts(caller)))
    # the leader's call alone, then every waiting caller's texts in one call, in arrival order
    assert len(encoder.batches) == 2
    assert sorted(encoder.batches[1]) == sorted(t for caller in range(1, 21) for t in _texts(caller))
    assert batcher.calls == 2


def test_many_threads_without_gates_get_their_own_rows_in_order() -> None:
    encoder, reference = BagOfWordsEncoder(), BagOfWordsEncoder()
    batcher = QueryBatcher(encoder, max_batch=8)
    callers = list(range(400))
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda c: batcher.encode_queries(_texts(c)), callers, timeout=BOUND))
    for caller, got in zip(callers, results, strict=True):
        _same(got, reference.encode_queries(_texts(caller)))
    assert batcher.calls == encoder.calls <= len(callers)


def test_asyncio_tasks_through_an_executor_get_their_own_rows() -> None:
    encoder, reference = BagOfWordsEncoder(), BagOfWordsEncoder()
    batcher = QueryBatcher(encoder, wait_ms=1.0)

    async def main() -> list[Embeddings]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(16) as pool:
            calls = [loop.run_in_executor(pool, batcher.encode_queries, _texts(c)) for c in range(200)]
            return await asyncio.wait_for(asyncio.gather(*calls), BOUND)

    for caller, got in enumerate(asyncio.run(main())):
        _same(got, reference.encode_queries(_texts(caller)))


def test_max_batch_splits_the_waiting_calls() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=4)
    leader, _ = _start_blocked_leader(batcher, encoder, ["lead"])
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(batcher.encode_queries, [f"q{i}"]) for i in range(10)]
        _wait_for(lambda: len(batcher._waiting) == 10, "10 callers waiting")
        encoder.gate.set()
        for future in futures:
            future.result(timeout=BOUND)
    leader.join(BOUND)
    assert all(len(batch) <= 4 for batch in encoder.batches)
    assert sorted(t for batch in encoder.batches[1:] for t in batch) == sorted(f"q{i}" for i in range(10))


def test_a_call_of_max_batch_texts_goes_to_the_encoder_alone() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=3)
    batcher.encode_queries(["a", "b", "c"])
    assert encoder.batches == [["a", "b", "c"]] and batcher.calls == 0


def test_an_error_reaches_only_the_caller_whose_text_caused_it() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder)
    reference = BagOfWordsEncoder()
    leader, lead_result = _start_blocked_leader(batcher, encoder, ["first"])
    with ThreadPoolExecutor(8) as pool:
        futures = {i: pool.submit(batcher.encode_queries, [f"bad {i}" if i == 3 else f"good {i}"]) for i in range(8)}
        _wait_for(lambda: len(batcher._waiting) == 8, "8 callers waiting")
        encoder.gate.set()
        for i, future in futures.items():
            if i == 3:
                with pytest.raises(ValueError, match="bad 3"):
                    future.result(timeout=BOUND)
            else:
                _same(future.result(timeout=BOUND), reference.encode_queries([f"good {i}"]))
    leader.join(BOUND)
    _same(lead_result["value"], reference.encode_queries(["first"]))


def test_a_failing_leader_raises_its_own_error_and_the_next_batch_still_runs() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder)
    leader, lead_result = _start_blocked_leader(batcher, encoder, ["bad leader"])
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.encode_queries, [f"fine {i}"]) for i in range(4)]
        _wait_for(lambda: len(batcher._waiting) == 4, "4 callers waiting")
        encoder.gate.set()
        results = [f.result(timeout=BOUND) for f in futures]
    leader.join(BOUND)
    assert isinstance(lead_result["error"], ValueError)
    assert len(results) == 4 and all(r.dense.shape == (1, 32) for r in results)
    encoder.gate = None
    assert batcher.encode_queries(["after"]).dense.shape == (1, 32)


def test_a_base_exception_in_the_leader_releases_every_waiting_caller() -> None:
    """The waits have no timeout: a leader interrupted by a ``BaseException`` must still end them."""

    class Interrupt(BaseException):
        pass

    class Interrupting(GatedEncoder):
        def encode_queries(self, texts):
            result = super().encode_queries(texts)
            if any("stop" in t for t in texts):
                raise Interrupt()
            return result

    encoder = Interrupting()
    batcher = QueryBatcher(encoder)
    leader, _ = _start_blocked_leader(batcher, encoder, ["lead"])
    errors: list[BaseException] = []
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(batcher.encode_queries, ["stop" if i == 0 else f"x{i}"]) for i in range(5)]
        _wait_for(lambda: len(batcher._waiting) == 5, "5 callers waiting")
        encoder.gate.set()
        for future in futures:
            try:
                future.result(timeout=BOUND)
            except BaseException as exc:  # noqa: BLE001 - the outcome is checked below
                errors.append(exc)
    leader.join(BOUND)
    # nobody hung: the caller that ran the interrupted batch gets the interrupt, the others an error
    assert sorted(type(e).__name__ for e in errors) == ["Interrupt"] + ["RuntimeError"] * 4
    encoder.gate = None
    assert batcher.encode_queries(["after"]).dense.shape == (1, 32)  # the batcher is idle again


def test_rows_that_do_not_match_the_texts_are_an_error_naming_the_encoder() -> None:
    class Short(BagOfWordsEncoder):
        def encode_queries(self, texts):
            return self._encode(texts[:-1])

    with pytest.raises(ValueError, match="bag-of-words.*returned \\[1\\] rows for 2 texts"):
        QueryBatcher(Short()).encode_queries(["a", "b"])


def test_no_thread_is_left_behind_and_a_process_exits() -> None:
    before = threading.active_count()
    batcher = QueryBatcher(BagOfWordsEncoder())
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: batcher.encode_queries([f"q{i}"]), range(200)))
    assert threading.active_count() == before
    script = (
        "import threading\n"
        "from vecbridge.encoders.batching import QueryBatcher\n"
        "from vecbridge.testing.encoders import BagOfWordsEncoder\n"
        "b = QueryBatcher(BagOfWordsEncoder())\n"
        "ts = [threading.Thread(target=lambda i=i: b.encode_queries([f'q{i}'])) for i in range(64)]\n"
        "[t.start() for t in ts]\n"
        "print('started')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=BOUND)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_batch": 0}, "max_batch"),
        ({"max_batch": True}, "max_batch"),
        ({"max_batch": 2.5}, "max_batch"),
        ({"wait_ms": -1}, "wait_ms"),
        ({"wait_ms": "5"}, "wait_ms"),
        ({"wait_ms": 5000}, "wait_ms"),
    ],
)
def test_bad_settings_name_the_field_and_value(options, field) -> None:
    with pytest.raises(ConfigurationError, match=f"{field} must be .*got {options[field]!r}"):
        QueryBatcher(BagOfWordsEncoder(), **options)


def test_bad_texts_fail_before_any_batching() -> None:
    batcher = QueryBatcher(GatedEncoder())
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        batcher.encode_queries(["ok", 3])
    assert batcher.calls == 0


def test_int8_minilm_rows_equal_unbatched_calls(tmp_path) -> None:
    """The real default CPU encoder (int8 graph, each text run alone): coalesced rows are bit-equal."""
    pytest.importorskip("onnxruntime")
    from vecbridge.encoders import load_encoder

    encoder = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8", cache_dir=tmp_path)
    queries = [f"does protein {i} regulate cell growth in tissue {i % 5}?" for i in range(24)]
    alone = [encoder.encode_queries([q]).dense for q in queries]
    batcher = QueryBatcher(encoder)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: batcher.encode_queries([q]).dense, queries, timeout=BOUND))
    for want, got in zip(alone, together, strict=True):
        np.testing.assert_array_equal(got, want)


def test_sparse_only_encoder_rows_split_correctly() -> None:
    class SparseOnly:
        name = "sparse-only"

        def encode_queries(self, texts):
            return Embeddings(sparse=[SparseVector.from_dict({len(t): 1.0}) for t in texts])

    batcher = QueryBatcher(SparseOnly())
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: batcher.encode_queries(["x" * n, "y" * (n + 1)]), range(1, 50)))
    for n, got in enumerate(results, start=1):
        assert [v.indices.tolist() for v in got.sparse] == [[n], [n + 1]]
