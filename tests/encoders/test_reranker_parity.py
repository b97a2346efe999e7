"""CrossEncoderReranker vs FlagEmbedding 1.4.2's FlagReranker on a random-weight XLM-R classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vecbridge.encoders.reranker import CrossEncoderReranker, Reranker
from vecbridge.schemas import ConfigurationError
from vecbridge.testing.checkpoints import CHINESE_TEXTS, ENGLISH_TEXTS

MAX_LENGTH = 48
PASSAGES = ENGLISH_TEXTS + CHINESE_TEXTS + [" ".join(ENGLISH_TEXTS * 2)]  # the last one overflows
QUERIES = ["capital of France", "什么是向量数据库", " ".join(ENGLISH_TEXTS)]  # the last query is cut to 3/4


@pytest.fixture(scope="module")
def flag_reranker(reranker_dir: Path):
    from FlagEmbedding import FlagReranker

    model = FlagReranker(str(reranker_dir), use_fp16=False, devices="cpu", batch_size=4, max_length=MAX_LENGTH)
    yield model
    model.stop_self_pool()


@pytest.fixture(scope="module")
def ours(reranker_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(str(reranker_dir), device="cpu", batch_size=3, max_length=MAX_LENGTH)


PAIRS = [(q, p) for q in QUERIES for p in PASSAGES]


@pytest.mark.parametrize("normalize", [False, True])
def test_scores_match_flag_reranker(flag_reranker, ours: CrossEncoderReranker, normalize: bool) -> None:
    expected = np.asarray(flag_reranker.compute_score(PAIRS, normalize=normalize), dtype=np.float64)
    ours.normalize = normalize
    try:
        got = ours.score_pairs(PAIRS)
    finally:
        ours.normalize = False
    assert got.shape == (len(PAIRS),) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    if normalize:
        assert np.all((got > 0) & (got < 1))
    assert np.ptp(got) > 0  # the stand-in model does tell pairs apart


def test_truncated_pairs_fit_max_length(ours: CrossEncoderReranker) -> None:
    features = ours._pair_features(PAIRS)
    assert max(len(f["input_ids"]) for f in features) == MAX_LENGTH
    long_query = ours._pair_features([(QUERIES[-1], "x")])[0]["input_ids"]
    x_tokens = len(ours.tokenizer("x", add_special_tokens=False)["input_ids"])
    assert len(long_query) == MAX_LENGTH * 3 // 4 + x_tokens + 4  # query cut to 3/4, passage kept, 4 specials


def test_score_is_score_pairs_for_one_query(ours: CrossEncoderReranker) -> None:
    assert isinstance(ours, Reranker)
    np.testing.assert_allclose(ours.score(QUERIES[0], PASSAGES), ours.score_pairs(PAIRS[: len(PASSAGES)]), atol=1e-6)
    assert ours.score("q", []).shape == (0,)


def test_bad_arguments_fail_clearly(reranker_dir: Path, ours: CrossEncoderReranker) -> None:
    with pytest.raises(ConfigurationError, match="max_length"):
        CrossEncoderReranker(str(reranker_dir), device="cpu", max_length=0)
    with pytest.raises(TypeError, match="pairs\\[0\\]"):
        ours.score_pairs([("only one",)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single string"):
        ours.score("q", "not a list")  # type: ignore[arg-type]
