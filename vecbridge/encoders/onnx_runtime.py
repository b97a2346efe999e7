"""onnxruntime sessions for the ONNX encoders: execution providers, threads, and the model object the
encoders keep where the torch adapters keep a ``transformers`` model."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders.onnx_export import INT8_FILE
from vecbridge.schemas import ConfigurationError

DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
"""onnxruntime graph rewrites left off: the fused SkipLayerNormalization kernel is slower on CPU than the
Add + LayerNormalization it replaces (``vecbridge.encoders.onnx_export.unfuse_skip_layer_norm``)."""


SHORT_TEXT = 64
"""Tokens up to which a per-text graph runs a single text on one thread (``TextLanes``, ``short``): int8
MiniLM, 2 cores, a SciFact query (about 22 tokens) alone encodes in 4.9 ms on one thread against 3.8 ms
on two sleeping threads, but for 5.2 CPU ms against 6.7, and ``index.search`` with it takes 10.3 ms
against 11.6 ms (``benchmarks/bench_query_session.py``)."""


def resolve_providers(providers: Optional[Sequence[str]] = None) -> list[str]:
    """``None``: CUDA (then CPU) when onnxruntime has CUDA, else CPU; otherwise checked as given."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if providers is None:
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return [p for p in wanted if p in available] or ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [providers]
    missing = [p for p in providers if p not in available]
    if missing or not providers:
        raise ConfigurationError(f"providers={list(providers)!r}: onnxruntime here offers {available}")
    return list(providers)


def open_session(
    path: Path, providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None, spinning: bool = True
) -> Any:
    """An ``onnxruntime.InferenceSession`` with all graph optimizations but ``DISABLED_OPTIMIZERS`` and
    ``num_threads`` intra-op threads. ``spinning=False``: idle intra-op threads sleep instead of
    spinning (``session.intra_op.allow_spinning``), so short runs from many threads do not burn the
    cores that other work needs."""
    import onnxruntime as ort

    if num_threads is not None and (not isinstance(num_threads, int) or num_threads <= 0):
        raise ConfigurationError(f"num_threads must be a positive int or None, got {num_threads!r}")
    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(path), options, providers=resolve_providers(providers), disabled_optimizers=DISABLED_OPTIMIZERS
    )


def default_lanes() -> int:
    """Texts run at once by ``TextLanes`` when ``num_threads`` is not given: the CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class TextLanes:
    """Runs a padded batch one text at a time without its padding, several texts at once, so each text's
    outputs depend on that text alone (``run``).

    A single text runs on ``session`` (``num_threads`` intra-op threads). A batch of several texts is
    spread over ``lanes`` single-threaded sessions of the same graph that run concurrently (onnxruntime
    releases the GIL): on CPU that beats one session's intra-op threads, which sit idle on the small
    ops of a one-text run (int8 MiniLM, 2 cores: 1.03x-1.20x, CHANGELOG.md, "Why the defaults"). Outputs do not
    depend on the lane (same kernels; tested). The lane sessions open on the first batch; each holds
    its own copy of the graph, so ``lanes=1`` (sequential, one session) suits very large graphs.
    ``spinning=False`` opens ``session`` with idle intra-op threads sleeping (``open_session``).
    ``short``: a single text of at most that many tokens (a query) runs on one lane session, one thread,
    instead of ``session``: its small ops leave a second intra-op thread mostly waiting, and in a search
    the store works on the other core meanwhile (``OnnxModel``). 0: every single text on ``session``.
    """

    def __init__(
        self,
        path: Path,
        providers: Optional[Sequence[str]] = None,
        num_threads: Optional[int] = None,
        lanes: Optional[int] = None,
        spinning: bool = True,
        short: int = 0,
    ) -> None:
        if lanes is not None and (not isinstance(lanes, int) or lanes <= 0):
            raise ConfigurationError(f"lanes must be a positive int or None, got {lanes!r}")
        self.path, self.providers, self.short = path, providers, short
        self.session = open_session(path, providers, num_threads, spinning=spinning)
        on_cpu = self.session.get_providers() == ["CPUExecutionProvider"]
        self.lanes = (lanes or num_threads or default_lanes()) if on_cpu else 1
        self._idle: Optional[queue.SimpleQueue] = None  # lane sessions not running a text now
        self._opening = threading.Lock()

    def run(
        self, outputs: Sequence[str], feeds: dict[str, Any], keep: Any, token_offsets: Sequence[Optional[int]]
    ) -> list[Any]:
        """``session.run(outputs, feeds)`` for a padded batch (``keep``: its attention mask as bool), one text
        at a time; outputs come back at the batch's positions (``place_rows``)."""
        names = list(outputs)
        if len(keep) == 1 and keep.all():  # one text without padding (a query): the feeds as they are
            return place_rows([self._run_one(names, feeds, keep.shape[1])], keep, token_offsets)
        texts = [{name: value[i : i + 1, keep[i]] for name, value in feeds.items()} for i in range(len(keep))]
        if len(texts) == 1 or self.lanes == 1:
            rows = [self._run_one(names, text, int(keep[i].sum())) for i, text in enumerate(texts)]
        else:
            with ThreadPoolExecutor(min(self.lanes, len(texts)), thread_name_prefix="onnx-lane") as pool:
                rows = list(pool.map(lambda text: self._on_a_lane(names, text), texts))
        return place_rows(rows, keep, token_offsets)

    def _run_one(self, names: list[str], text: dict[str, Any], tokens: int) -> list[Any]:
        """One text: a short one on a one-thread lane session (when there are lanes), else on ``session``."""
        if tokens <= self.short and self.lanes > 1:
            return self._on_a_lane(names, text)
        return self.session.run(names, text)

    def _on_a_lane(self, names: list[str], text: dict[str, Any]) -> list[Any]:
        idle = self._lane_sessions()
        session = idle.get()
        try:
            return session.run(names, text)
        finally:
            idle.put(session)

    def _lane_sessions(self) -> queue.SimpleQueue[Any]:
        with self._opening:
            if self._idle is None:
                idle: queue.SimpleQueue = queue.SimpleQueue()
                for _ in range(self.lanes):
                    idle.put(open_session(self.path, self.providers, 1))
                self._idle = idle
            return self._idle


class OnnxModel:
    """A session plus the checkpoint's ``config``: what the ONNX encoders keep where torch keeps the model.

    ``per_text``: run each text of a batch alone, without its padding; on for the dynamically quantized
    graph (``INT8_FILE``), which needs it: ``DynamicQuantizeLinear`` takes one scale per input *tensor*,
    so in a batch a text's vector would depend on the other texts (and on their padding). Alone, it
    depends on the text only. Per-text batches run on ``TextLanes`` (several texts at once). A single
    text of up to ``SHORT_TEXT`` tokens (a query) runs on one thread; a longer one on the model's own
    session, whose idle intra-op threads sleep rather than spin: in a search the encoder idles while the
    store works, and spinning threads burn a core through that wait (int8 MiniLM, 2 cores,
    ``index.search`` on Milvus Lite: about half the client CPU per search with sleeping threads;
    ``benchmarks/bench_query_session.py`` measures the three).
    """

    def __init__(
        self, path: Path, config: Any, providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None
    ) -> None:
        self.path = path
        self.config = config
        self.per_text = Path(path).name == INT8_FILE
        self.each_text = TextLanes(
            path, providers, num_threads, spinning=not self.per_text, short=SHORT_TEXT if self.per_text else 0
        )
        self.session = self.each_text.session
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.providers = self.session.get_providers()
        self.output_ranks = {o.name: len(o.shape) for o in self.session.get_outputs()}
        self.overlaps_batches = self.per_text and self.each_text.lanes > 1
        """Whether an encoder may run two batches at once (``encode_rows_in_batches(overlap=...)``): per-text
        runs on several one-thread lanes, whose sessions then never idle between batches."""

    def run(self, output: str, encoded: Any) -> Any:
        """``output`` for a tokenizer's numpy batch (with ``attention_mask``); feeds only the inputs the graph
        declares (int64). Per-text runs return per-token outputs at the batch's positions (zeros at padding)."""
        import numpy as np

        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        if not self.per_text:
            return self.session.run([output], feeds)[0]
        keep = np.asarray(encoded["attention_mask"]).astype(bool)  # a text's tokens, wherever the padding is
        per_token = self.output_ranks[output] >= 3  # [batch, tokens, ...]; pooled outputs are [batch, ...]
        return self.each_text.run([output], feeds, keep, [0 if per_token else None])[0]


def place_rows(rows: Sequence[Sequence[Any]], keep: Any, token_offsets: Sequence[Optional[int]]) -> list[Any]:
    """Per-text outputs (``rows[i][j]``: output ``j`` of text ``i``) back at a padded batch's positions.

    ``token_offsets[j]`` None for a pooled output (``[1, ...]`` per text -> ``[batch, ...]``); else output
    ``j`` holds one row per token from that offset on (0: every token; 1: all but the first, like BGE-M3's
    ColBERT vectors, which needs the padding on the right) -> ``[batch, length - offset, ...]`` with zeros
    at padding.
    """
    import numpy as np

    if len(rows) == 1 and keep.all() and all(offset in (None, 0) for offset in token_offsets):
        return list(rows[0])  # one text without padding: its outputs are already the batch's
    results = []
    for j, offset in enumerate(token_offsets):
        parts = [row[j] for row in rows]
        if offset is None:
            results.append(np.concatenate(parts))
            continue
        out = np.zeros((keep.shape[0], keep.shape[1] - offset, *parts[0].shape[2:]), dtype=parts[0].dtype)
        for i, part in enumerate(parts):
            out[i, keep[i, offset:]] = part[0]
        results.append(out)
    return results
