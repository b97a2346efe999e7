"""BGE-M3: our encoder vs FlagEmbedding 1.4.2's BGEM3FlagModel on a random-weight stand-in checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.encoders._checkpoints import count_tokenizer_calls
from vecbridge.encoders import Encoder, OutputKind
from vecbridge.encoders.bgem3 import BGEM3Encoder, load_bgem3
from vecbridge.encoders.bgem3_scoring import colbert_score, combine_scores, lexical_matching_score
from vecbridge.schemas import ConfigurationError, ModelNotFoundError, SparseVector
from vecbridge.testing.checkpoints import CHINESE_TEXTS, DATA_DIR, ENGLISH_TEXTS

QUERY_MAX, PASSAGE_MAX = 24, 64
WEIGHTS = [0.4, 0.2, 0.4]


def _toy_texts() -> list[str]:
    path = DATA_DIR / "flagembedding_toy" / "toy_finetune_data.jsonl"
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:3]]
    return [text for r in records for text in (r["query"], *r["pos"], *r["neg"][:2])]


PASSAGES = ENGLISH_TEXTS + CHINESE_TEXTS + _toy_texts() + [" ".join(ENGLISH_TEXTS * 3)]  # last one is truncated
QUERIES = ["capital of France", "什么是混合检索", "fox and dog", "向量 database", "🙂"]


@pytest.fixture(scope="module")
def flag_model(bgem3_dir: Path):
    from FlagEmbedding import BGEM3FlagModel

    model = BGEM3FlagModel(
        str(bgem3_dir),
        use_fp16=False,
        devices="cpu",
        batch_size=4,
        query_max_length=QUERY_MAX,
        passage_max_length=PASSAGE_MAX,
    )
    yield model
    model.stop_self_pool()


@pytest.fixture(scope="module")
def ours(bgem3_dir: Path) -> BGEM3Encoder:
    return BGEM3Encoder(
        str(bgem3_dir), device="cpu", batch_size=5, query_max_length=QUERY_MAX, passage_max_length=PASSAGE_MAX
    )


def _flag_encode(flag_model, texts: list[str], queries: bool) -> dict:
    method = flag_model.encode_queries if queries else flag_model.encode_corpus
    return method(texts, return_dense=True, return_sparse=True, return_colbert_vecs=True)


@pytest.fixture(scope="module")
def pairs_of_outputs(flag_model, ours: BGEM3Encoder):
    return {
        "passages": (_flag_encode(flag_model, PASSAGES, False), ours.encode_documents(PASSAGES)),
        "queries": (_flag_encode(flag_model, QUERIES, True), ours.encode_queries(QUERIES)),
    }


def test_is_an_encoder_with_model_metadata(ours: BGEM3Encoder) -> None:
    assert isinstance(ours, Encoder)
    assert ours.outputs == {OutputKind.DENSE, OutputKind.SPARSE, OutputKind.COLBERT}
    assert ours.dense_dim == 96
    assert ours.sparse_vocab_size == len(ours.tokenizer)


@pytest.mark.parametrize("side", ["passages", "queries"])
def test_dense_matches_flagembedding(pairs_of_outputs, side: str) -> None:
    ref, got = pairs_of_outputs[side]
    assert got.dense.shape == ref["dense_vecs"].shape
    np.testing.assert_allclose(got.dense, ref["dense_vecs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got.dense, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("side", ["passages", "queries"])
def test_lexical_weights_match_flagembedding(pairs_of_outputs, ours: BGEM3Encoder, side: str) -> None:
    ref, got = pairs_of_outputs[side]
    assert len(got.sparse) == len(ref["lexical_weights"])
    texts = PASSAGES if side == "passages" else QUERIES
    for i, (expected, vector) in enumerate(zip(ref["lexical_weights"], got.sparse, strict=True)):
        weights = vector.to_lexical_weights()
        assert set(weights) == set(expected), f"row {i}: keys differ by {set(weights) ^ set(expected)}"
        for key, value in expected.items():
            assert weights[key] == pytest.approx(float(value), abs=1e-5), f"row {i} token {key}"
        assert not {str(t) for t in ours.unused_token_ids} & set(weights)
    if side == "passages":  # some rows repeat a token id, so the per-id max is exercised
        ids = [ours.tokenizer(t, truncation=True, max_length=PASSAGE_MAX)["input_ids"][1:-1] for t in texts]
        assert any(len(set(row)) < len(row) for row in ids)


@pytest.mark.parametrize("side", ["passages", "queries"])
def test_colbert_vectors_match_flagembedding(pairs_of_outputs, side: str) -> None:
    ref, got = pairs_of_outputs[side]
    for i, (expected, vectors) in enumerate(zip(ref["colbert_vecs"], got.colbert, strict=True)):
        assert vectors.shape == expected.shape, f"row {i}"
        np.testing.assert_allclose(vectors, expected, atol=1e-5, rtol=0)


def test_truncation_follows_max_lengths(pairs_of_outputs) -> None:
    _, passages = pairs_of_outputs["passages"]
    assert passages.colbert[-1].shape[0] == PASSAGE_MAX - 1


def test_lexical_and_colbert_scores_match_flagembedding(flag_model, pairs_of_outputs) -> None:
    (ref_q, got_q), (ref_p, got_p) = pairs_of_outputs["queries"], pairs_of_outputs["passages"]
    for qi in range(len(QUERIES)):
        for pi in range(len(PASSAGES)):
            expected = flag_model.compute_lexical_matching_score(
                ref_q["lexical_weights"][qi], ref_p["lexical_weights"][pi]
            )
            assert lexical_matching_score(got_q.sparse[qi], got_p.sparse[pi]) == pytest.approx(
                float(expected), abs=1e-5
            )
            # dict input (FlagEmbedding's form) gives the same score
            assert lexical_matching_score(ref_q["lexical_weights"][qi], got_p.sparse[pi]) == pytest.approx(
                float(expected), abs=1e-5
            )
            expected = float(flag_model.colbert_score(ref_q["colbert_vecs"][qi], ref_p["colbert_vecs"][pi]))
            assert colbert_score(got_q.colbert[qi], got_p.colbert[pi]) == pytest.approx(expected, abs=1e-5)


def test_compute_score_matches_flagembedding(flag_model, ours: BGEM3Encoder) -> None:
    pairs = [(q, p) for q in QUERIES for p in PASSAGES[::3]]
    # batch_size=1: FlagEmbedding then scores each pair on unpadded vectors, which is what we define.
    expected = flag_model.compute_score(pairs, batch_size=1, weights_for_different_modes=WEIGHTS)
    got = ours.compute_score(pairs, weights_for_different_modes=WEIGHTS)
    assert set(got) == set(expected)
    for mode in expected:
        np.testing.assert_allclose(got[mode], expected[mode], atol=1e-5, rtol=0, err_msg=mode)


def test_combine_scores_default_weights_are_means() -> None:
    scores = combine_scores(0.9, 0.3, 0.6)
    assert scores["sparse+dense"] == pytest.approx(0.6)
    assert scores["colbert+sparse+dense"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="3 values"):
        combine_scores(1, 1, 1, [1, 1])


def test_output_subset_skips_work_and_keeps_values(bgem3_dir: Path, pairs_of_outputs) -> None:
    _, full = pairs_of_outputs["passages"]
    dense_only = BGEM3Encoder(str(bgem3_dir), device="cpu", outputs=["dense"], passage_max_length=PASSAGE_MAX)
    got = dense_only.encode_documents(PASSAGES)
    assert got.sparse is None and got.colbert is None
    np.testing.assert_allclose(got.dense, full.dense, atol=1e-5)
    sparse_only = load_bgem3(str(bgem3_dir), device="cpu", outputs={OutputKind.SPARSE}, passage_max_length=PASSAGE_MAX)
    got = sparse_only.encode_documents(PASSAGES)
    assert got.dense is None and got.colbert is None
    assert all(isinstance(v, SparseVector) for v in got.sparse)


def test_rows_come_back_in_input_order_for_any_batch_size(bgem3_dir: Path, pairs_of_outputs) -> None:
    _, full = pairs_of_outputs["passages"]
    one_by_one = BGEM3Encoder(str(bgem3_dir), device="cpu", batch_size=1, passage_max_length=PASSAGE_MAX)
    got = one_by_one.encode_documents(PASSAGES)
    np.testing.assert_allclose(got.dense, full.dense, atol=1e-5)
    assert [len(v) for v in got.sparse] == [len(v) for v in full.sparse]
    assert len(one_by_one.encode_documents([])) == 0


def test_bad_arguments_fail_with_clear_errors(bgem3_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="outputs"):
        BGEM3Encoder(str(bgem3_dir), device="cpu", outputs=["dense", "splade"])
    with pytest.raises(ConfigurationError, match="fp16"):
        BGEM3Encoder(str(bgem3_dir), device="cpu", precision="fp16")
    with pytest.raises(ConfigurationError, match="backend"):
        load_bgem3(str(bgem3_dir), backend="tensorrt")
    broken = tmp_path / "no_heads"
    shutil.copytree(bgem3_dir, broken)
    (broken / "sparse_linear.pt").unlink()
    with pytest.raises(ModelNotFoundError, match="sparse_linear.pt"):
        BGEM3Encoder(str(broken), device="cpu")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        BGEM3Encoder(str(tmp_path / "missing" / "deeper" / "folder"), device="cpu")


def test_each_text_is_tokenized_once_per_call(bgem3_dir: Path, pairs_of_outputs) -> None:
    """The lengths that sort the batches and the batches come from one tokenizer pass (no second pass)."""
    _, full = pairs_of_outputs["passages"]
    encoder = BGEM3Encoder(str(bgem3_dir), device="cpu", batch_size=5, passage_max_length=PASSAGE_MAX)
    calls = count_tokenizer_calls(encoder)
    got = encoder.encode_documents(PASSAGES)
    assert calls == [len(PASSAGES)]
    np.testing.assert_allclose(got.dense, full.dense, atol=1e-5)


def test_query_instruction_does_not_hide_a_bad_row(bgem3_dir: Path) -> None:
    encoder = BGEM3Encoder(str(bgem3_dir), device="cpu", query_instruction="query: ", query_max_length=QUERY_MAX)
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        encoder.encode_queries(["fine", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single string"):
        encoder.encode_queries("one string")  # type: ignore[arg-type]
