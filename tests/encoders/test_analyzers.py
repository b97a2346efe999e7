"""Analyzers: Snowball-stemmed English as bm25s tokenizes it, BM25 scores equal bm25s end to end,
Chinese per script, and the analyzer saved with a BM25 encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecbridge.encoders.bm25 import BM25Encoder, bm25_options
from vecbridge.encoders.tokenize import ANALYZERS, Analyzer, analyze, get_analyzer
from vecbridge.schemas import ConfigurationError

CORPUS = [
    "Diabetes is a chronic disease that occurs when the pancreas does not produce enough insulin.",
    "Insulin resistance and obesity are major causes of type 2 diabetes in studies of adults.",
    "The cat sat on the mat while the dogs were sleeping by the fire.",
    "Regular exercising lowers blood sugar and improves insulin sensitivity in diabetic adults.",
    "Volcanoes erupt when magma rises through cracks in the earth's crust; eruptions vary.",
    "A healthy diet rich in fibre reduces the risks of heart disease, strokes and diabetes.",
    "Dogs chased cats, and a cat chased the mice around the old barns for hours.",
    "Studying the studies: researchers studied running, runners and runs.",
]
QUERIES = ["what causes diabetic disease", "cats chasing dogs", "volcanic eruption magma", "studies running", "zebra"]


@pytest.fixture(scope="module")
def stemmer():
    return pytest.importorskip("Stemmer").Stemmer("english")


def test_english_tokens_equal_bm25s_tokenize(stemmer) -> None:
    bm25s = pytest.importorskip("bm25s", reason="bm25s (dev extra) is the reference")
    reference = bm25s.tokenize(CORPUS + QUERIES, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    ours = [Analyzer(min_token_length=2)(t) for t in CORPUS + QUERIES]  # bm25s' pattern \w\w+: 2+ characters
    assert ours == reference
    assert "diabet" in ours[0] and "the" not in ours[2]  # stemmed, stop words gone


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (0.9, 0.4), (1.2, 0.0)])
def test_scores_equal_bm25s_with_the_same_stemmer_and_stop_words(stemmer, k1: float, b: float) -> None:
    bm25s = pytest.importorskip("bm25s", reason="bm25s (dev extra) is the reference")
    reference = bm25s.BM25(method="lucene", k1=k1, b=b)
    reference.index(bm25s.tokenize(CORPUS, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    ours = BM25Encoder(k1=k1, b=b, analyzer=Analyzer(min_token_length=2)).fit(CORPUS)
    documents = ours.encode_documents(CORPUS).sparse
    checked = 0
    for query in QUERIES:
        q_terms = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        assert len(set(q_terms)) == len(q_terms)  # bm25s counts a repeated query term once; ours twice
        q_vector = ours.encode_queries([query]).sparse[0]
        got = np.array([q_vector.dot(d) for d in documents])
        known = [t for t in q_terms if t in reference.vocab_dict]
        if not known:
            assert not got.any()
            continue
        # bm25s' "lucene" tf part leaves out the constant (k1 + 1) factor of the classic formula
        expected = reference.get_scores(known) * (k1 + 1)
        assert expected.max() > 0
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        checked += 1
    assert checked == len(QUERIES) - 1


def test_mixed_text_is_analyzed_per_script() -> None:
    english = get_analyzer("english")
    assert english("Running 跑步的人 runs quickly") == ["run", "跑步", "人", "run", "quick"]
    assert english("糖尿病的原因") == analyze("糖尿病的原因") == ["糖尿病", "原因"]  # Han: jieba, not stemmed
    search = Analyzer(chinese="search")("中华人民共和国的首都")
    default = english("中华人民共和国的首都")
    assert set(default) < set(search) and {"中华", "人民", "共和国"} <= set(search)


def test_plain_analyzer_is_the_legacy_one() -> None:
    plain = get_analyzer("plain")
    for text in CORPUS + ["Python 是一种流行的编程语言!", "The CAT's ＤＯＧ, 2 cats."]:
        assert plain(text) == analyze(text)
    assert (
        plain.name == "plain"
        and get_analyzer("english").name == "english"
        and Analyzer(chinese="search").name == "custom"
    )


def test_bad_settings_name_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="choose one of.*english.*plain"):
        get_analyzer("french")
    with pytest.raises(ConfigurationError, match="not a Snowball language.*english"):
        Analyzer(stemmer="klingon")
    with pytest.raises(ConfigurationError, match="stop_words='x'.*lucene"):
        Analyzer(stop_words="x")
    with pytest.raises(ConfigurationError, match="unknown analyzer settings \\['lang'\\]"):
        Analyzer.from_dict({"lang": "en"})


def test_analyzer_k1_b_saved_and_restored(tmp_path) -> None:
    analyzer = Analyzer(chinese="search", min_token_length=2)
    fitted = BM25Encoder(k1=0.9, b=0.4, analyzer=analyzer).fit(CORPUS + ["中华人民共和国的首都是北京"])
    fitted.save(tmp_path / "bm25")
    loaded = BM25Encoder.load(tmp_path / "bm25")
    assert loaded.analyzer == analyzer and (loaded.k1, loaded.b) == (0.9, 0.4)
    texts = QUERIES + ["中华的首都"]
    assert loaded.encode_queries(texts).sparse == fitted.encode_queries(texts).sparse
    assert loaded.encode_documents(CORPUS).sparse == fitted.encode_documents(CORPUS).sparse


def test_files_without_a_recorded_analyzer_load_with_plain(tmp_path) -> None:
    plain = BM25Encoder(analyzer="plain").fit(CORPUS)
    folder = plain.save(tmp_path / "old")
    params = json.loads((folder / "bm25_params.json").read_text())
    params["analyzer"] = "encoders.tokenize.analyze"  # what vecbridge wrote before analyzers were recorded
    (folder / "bm25_params.json").write_text(json.dumps(params))
    loaded = BM25Encoder.load(folder)
    assert loaded.analyzer == ANALYZERS["plain"]
    assert loaded.encode_queries(QUERIES).sparse == plain.encode_queries(QUERIES).sparse


def test_default_analyzer_stems() -> None:
    encoder = BM25Encoder().fit(CORPUS)
    assert encoder.analyzer == ANALYZERS["english"] and "studi" in encoder.vocab and "studies" not in encoder.vocab


def test_bm25_model_strings() -> None:
    assert bm25_options("bm25") == {} and bm25_options("splade-tiny") is None
    assert bm25_options("bm25:analyzer=plain,k1=0.9,b=0.4") == {"analyzer": "plain", "k1": 0.9, "b": 0.4}
    search = bm25_options("bm25:chinese=search")["analyzer"]
    assert Analyzer.from_dict(search) == Analyzer(chinese="search")
    with pytest.raises(ConfigurationError, match="expected bm25"):
        bm25_options("bm25:stem=yes")
    with pytest.raises(ConfigurationError, match="k1='x' is not a number"):
        bm25_options("bm25:k1=x")
