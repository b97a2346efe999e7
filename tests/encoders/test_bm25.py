"""BM25Encoder: scores against rank_bm25 and bm25s on the same tokens, Chinese retrieval, persistence."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vecbridge.encoders.bm25 import BM25Encoder, NotFittedError
from vecbridge.encoders.tokenize import analyze
from vecbridge.schemas import ConfigurationError, SparseVector

CORPUS = [
    "Diabetes is a chronic disease that occurs when the pancreas does not produce enough insulin.",
    "Insulin resistance and obesity are major causes of type 2 diabetes.",
    "The cat sat on the mat while the dog slept by the fire.",
    "Regular exercise lowers blood sugar and improves insulin sensitivity in adults with diabetes.",
    "Volcanoes erupt when magma rises through cracks in the earth's crust.",
    "A healthy diet rich in fibre reduces the risk of heart disease, stroke and diabetes.",
    "The dog chased the cat, and the cat chased the mouse around the old barn.",
]
QUERIES = ["what causes diabetes", "cat and dog", "insulin insulin resistance", "volcano magma eruption", "zebra"]
MIXED = CORPUS + [
    "糖尿病是一种慢性疾病，主要原因是胰岛素分泌不足。",
    "火山喷发是由于岩浆从地壳裂缝中上升。",
    "北京是中国的首都，有很多历史古迹。",
    "Python 是一种流行的编程语言，广泛用于数据科学。",
]


def scores(encoder: BM25Encoder, queries: list[str], corpus: list[str]) -> np.ndarray:
    q = encoder.encode_queries(queries).sparse
    d = encoder.encode_documents(corpus).sparse
    return np.array([[qv.dot(dv) for dv in d] for qv in q])


@pytest.fixture(scope="module")
def fitted() -> BM25Encoder:
    return BM25Encoder(k1=1.5, b=0.6).fit(CORPUS)


def test_scores_equal_rank_bm25_with_lucene_idf(fitted: BM25Encoder) -> None:
    rank_bm25 = pytest.importorskip("rank_bm25", reason="rank-bm25 (dev extra) is the reference")
    tokens = [fitted.tokenize(t) for t in CORPUS]
    reference = rank_bm25.BM25Okapi(tokens, k1=1.5, b=0.6)
    n = len(tokens)
    # rank_bm25 uses Robertson idf with an epsilon floor; substitute Lucene's idf, keep its tf part.
    df = Counter(t for doc in tokens for t in set(doc))
    reference.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    ours = scores(fitted, QUERIES, CORPUS)
    expected = np.array([reference.get_scores(fitted.tokenize(q)) for q in QUERIES])
    assert expected.max() > 0 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_scores_equal_bm25s_lucene(fitted: BM25Encoder) -> None:
    bm25s = pytest.importorskip("bm25s", reason="bm25s (dev extra) is the reference")
    tokens = [fitted.tokenize(t) for t in CORPUS]
    reference = bm25s.BM25(method="lucene", k1=1.5, b=0.6)
    reference.index(tokens, show_progress=False)
    ours = scores(fitted, QUERIES, CORPUS)
    for i, query in enumerate(QUERIES):
        q_tokens = [t for t in dict.fromkeys(fitted.tokenize(query)) if t in reference.vocab_dict]
        if not q_tokens:
            assert not ours[i].any()
            continue
        # bm25s' "lucene" tf part omits the constant (k1 + 1) factor of the classic formula
        # (bm25s/scoring.py _score_tfc_robertson); it counts a repeated query term once.
        # the same statistics on pre-analyzed text, so the query can hold each term once
        analyzed = BM25Encoder(k1=1.5, b=0.6, tokenizer=str.split).fit([" ".join(t) for t in tokens])
        q_unique = analyzed.encode_queries([" ".join(q_tokens)]).sparse[0]
        d = analyzed.encode_documents([" ".join(t) for t in tokens]).sparse
        ours_unique = np.array([q_unique.dot(v) for v in d])
        expected = reference.get_scores(q_tokens) * (1.5 + 1)
        np.testing.assert_allclose(ours_unique, expected, rtol=1e-5, atol=1e-6)


def test_repeated_query_term_counts_twice(fitted: BM25Encoder) -> None:
    once, twice = fitted.encode_queries(["insulin", "insulin insulin"]).sparse
    np.testing.assert_allclose(twice.values, 2 * once.values)


def test_unseen_query_terms_dropped_and_ids_in_vocab(fitted: BM25Encoder) -> None:
    (vector,) = fitted.encode_queries(["zebra diabetes"]).sparse
    assert [t for t, _ in fitted.decode(vector)] == fitted.tokenize("diabetes") == ["diabet"]
    assert fitted.sparse_vocab_size == len(fitted.vocab)
    docs = fitted.encode_documents(CORPUS).sparse
    assert max(int(v.indices.max()) for v in docs) < fitted.sparse_vocab_size


def test_ranking_english(fitted: BM25Encoder) -> None:
    s = scores(fitted, ["what causes diabetes", "volcano magma"], CORPUS)
    assert int(np.argmax(s[0])) == 1
    assert int(np.argmax(s[1])) == 4


def test_chinese_query_finds_chinese_passage() -> None:
    encoder = BM25Encoder().fit(MIXED)
    s = scores(encoder, ["糖尿病的主要原因是什么", "火山为什么会喷发", "中国的首都", "python 编程语言"], MIXED)
    assert np.argmax(s, axis=1).tolist() == [7, 8, 9, 10]


def test_mixed_text_tokens() -> None:
    assert analyze("Python 是一种流行的编程语言!") == ["python", "一种", "流行", "编程语言"]
    assert analyze("The CAT's ＤＯＧ, 2 cats.") == ["cat", "dog", "2", "cats"]


def test_save_load_round_trip(fitted: BM25Encoder, tmp_path) -> None:
    fitted.save(tmp_path / "bm25")
    loaded = BM25Encoder.load(tmp_path / "bm25")
    assert (loaded.k1, loaded.b, loaded.n_docs, loaded.avgdl) == (fitted.k1, fitted.b, fitted.n_docs, fitted.avgdl)
    assert loaded.vocab == fitted.vocab
    for method in ("encode_documents", "encode_queries"):
        assert getattr(loaded, method)(MIXED).sparse == getattr(fitted, method)(MIXED).sparse


def test_dict_round_trip_is_json_and_encodes_the_same(fitted: BM25Encoder) -> None:
    params = json.loads(json.dumps(fitted.to_dict()))  # what a store keeps
    loaded = BM25Encoder.from_dict(params)
    assert (loaded.k1, loaded.b, loaded.n_docs, loaded.avgdl, loaded.vocab) == (
        fitted.k1,
        fitted.b,
        fitted.n_docs,
        fitted.avgdl,
        fitted.vocab,
    )
    for method in ("encode_documents", "encode_queries"):
        assert getattr(loaded, method)(MIXED).sparse == getattr(fitted, method)(MIXED).sparse
    with pytest.raises(ConfigurationError, match="state of 'x': df shape"):
        BM25Encoder.from_dict({**params, "df": params["df"][:-1]}, source="state of 'x'")
    with pytest.raises(ConfigurationError, match="format_version=99"):
        BM25Encoder.from_dict({**params, "format_version": 99})


def test_load_errors(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="bm25_params.json is missing"):
        BM25Encoder.load(tmp_path)
    BM25Encoder(tokenizer=str.split).fit(["a b", "b c"]).save(tmp_path / "custom")
    with pytest.raises(ConfigurationError, match="custom tokenizer"):
        BM25Encoder.load(tmp_path / "custom")
    assert BM25Encoder.load(tmp_path / "custom", tokenizer=str.split).vocab == {"a": 0, "b": 1, "c": 2}


def test_unfitted_is_a_clear_error() -> None:
    encoder = BM25Encoder()
    assert encoder.sparse_vocab_size is None
    with pytest.raises(NotFittedError, match="not fitted.*fit"):
        encoder.encode_queries(["anything"])
    with pytest.raises(ConfigurationError, match="b must lie"):
        BM25Encoder(b=1.5)


def test_batching_does_not_change_vectors(fitted: BM25Encoder) -> None:
    one = BM25Encoder(k1=1.5, b=0.6, batch_size=1).fit(CORPUS)
    assert one.encode_documents(CORPUS).sparse == fitted.encode_documents(CORPUS).sparse
    assert isinstance(fitted.encode_documents(CORPUS[:1]).sparse[0], SparseVector)


def test_bm25_does_not_import_torch() -> None:
    code = (
        "import sys; from vecbridge.encoders import BM25Encoder, LiveBM25Encoder; "
        "e = BM25Encoder().fit(['a cat', 'a dog 狗']); e.encode_queries(['cat 狗']); "
        "LiveBM25Encoder().fit(['a cat']).encode_queries(['cat 狗']); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_bad_inputs_and_progress(fitted: BM25Encoder) -> None:
    with pytest.raises(TypeError, match="single string"):
        fitted.encode_queries("diabetes")
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        fitted.encode_documents(["ok", 3])  # type: ignore[list-item]
    assert len(BM25Encoder(progress=True).fit(CORPUS).encode_documents(CORPUS)) == len(CORPUS)
    assert len(fitted.encode_documents([])) == 0


def test_max_length_caps_terms() -> None:
    capped = BM25Encoder(max_length=2).fit(["alpha beta gamma", "beta delta"])
    assert capped.tokenize("alpha beta gamma") == ["alpha", "beta"] and "gamma" not in capped.vocab


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcde fgh中文 ", max_size=40), min_size=1, max_size=4))
def test_vectors_are_what_sparsevector_validation_makes(texts: list[str]) -> None:
    fitted = BM25Encoder().fit(["a b c", "bad cafe", "fed ghee", "中文 a"] + texts)
    for vectors in (fitted.encode_queries(texts).sparse, fitted.encode_documents(texts).sparse):
        for vector in vectors or []:
            checked = SparseVector(indices=vector.indices.astype(np.int64), values=vector.values)
            assert vector.indices.dtype == checked.indices.dtype and vector.values.dtype == checked.values.dtype
            np.testing.assert_array_equal(vector.indices, checked.indices)
            np.testing.assert_array_equal(vector.values, checked.values)
            assert vector.indices.flags.c_contiguous and vector.values.flags.c_contiguous
