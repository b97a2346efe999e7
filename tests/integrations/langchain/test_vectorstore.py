"""``VecbridgeVectorStore`` / ``VecbridgeHybridRetriever`` / ``LangChainEmbeddingsEncoder`` beyond the
standard suite, on Milvus Lite (file) and the Elasticsearch emulator: ids, filters in both dialects,
delete by filter and delete-all, relevance scores, search by vector, MMR, retrievers, from_texts,
errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document as LCDocument  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402

from vecbridge import AsyncHybridIndex, HybridIndex  # noqa: E402
from vecbridge.encoders.bm25 import BM25Encoder  # noqa: E402
from vecbridge.integrations.langchain import (  # noqa: E402
    LangChainEmbeddingsEncoder,
    VecbridgeHybridRetriever,
    VecbridgeVectorStore,
    from_langchain_document,
    to_langchain_document,
)
from vecbridge.integrations.langchain_filters import translate_filter  # noqa: E402
from vecbridge.schemas import ConfigurationError, FilterError, InvalidInputError, Metric, parse_filter  # noqa: E402
from vecbridge.schemas.filters import matches  # noqa: E402

EMBEDDINGS = DeterministicFakeEmbedding(size=8)
TEXTS = [
    "milvus stores vectors",
    "elasticsearch indexes text",
    "rivers flow to the sea",
    "vector databases search by similarity",
    "the sea is salty",
    "hybrid search fuses rankings",
]
METAS = [
    {"lang": "en", "year": 2019},
    {"lang": "de", "year": 2021},
    {"lang": "en", "year": 2023},
    {"lang": "fr", "year": 2020},
    {"lang": "en", "year": 2021},
    {"lang": "de", "year": 2024},
]
IDS = [f"d{i}" for i in range(len(TEXTS))]
FILTERABLE = {"lang": "string", "year": "int"}


@pytest.fixture
def store(lc_connector: object, collection_name: str) -> Iterator[VecbridgeVectorStore]:
    vs = VecbridgeVectorStore.create(lc_connector, collection_name, EMBEDDINGS, filterable=FILTERABLE)
    vs.add_texts(TEXTS, METAS, ids=IDS)
    yield vs
    vs.index.close()


@pytest.fixture
def hybrid_store(lc_connector: object, collection_name: str) -> Iterator[VecbridgeVectorStore]:
    bm25 = BM25Encoder().fit(TEXTS)
    vs = VecbridgeVectorStore.create(lc_connector, collection_name, EMBEDDINGS, sparse=bm25, filterable=FILTERABLE)
    vs.add_texts(TEXTS, METAS, ids=IDS)
    yield vs
    vs.index.close()


# ---- documents and ids --------------------------------------------------------------------------
def test_documents_map_both_ways_and_ids_are_generated_only_when_absent():
    lc = LCDocument(page_content="t", metadata={"a": 1, "tags": ["x", "y"]})
    doc = from_langchain_document(lc)
    assert len(doc.id) == 36 and doc.text == "t" and doc.metadata == {"a": 1, "tags": ["x", "y"]}
    assert from_langchain_document(LCDocument(id="own", page_content="t")).id == "own"
    assert from_langchain_document(LCDocument(id="own", page_content="t"), id="given").id == "given"
    back = to_langchain_document(doc)
    assert back == LCDocument(id=doc.id, page_content="t", metadata={"a": 1, "tags": ["x", "y"]})
    back.metadata["a"] = 2
    assert doc.metadata["a"] == 1  # a copy


def test_add_get_and_generated_ids(store):
    got = store.get_by_ids(["d2", "missing", "d0", "d2"])
    assert sorted((d.id, d.page_content, d.metadata["year"]) for d in got) == [
        ("d0", TEXTS[0], 2019),
        ("d2", TEXTS[2], 2023),
    ]
    new_ids = store.add_texts(["one more", "and another"], [{"lang": "en", "year": 1}, {"lang": "en", "year": 2}])
    assert len(set(new_ids)) == 2 and not set(new_ids) & set(IDS)
    assert {d.page_content for d in store.get_by_ids(new_ids)} == {"one more", "and another"}
    assert store.index.count() == len(TEXTS) + 2
    assert store.get_by_ids([]) == []


# ---- search and filters ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flt",
    [
        {"lang": "en"},
        {"year": {"$gte": 2021}},
        {"lang": {"$in": ["de", "fr"]}},
        {"$or": [{"lang": "fr"}, {"year": {"$lt": 2020}}]},
        {"lang": "en", "year": {"$ne": 2023}},
        {"key": "lang", "op": "!=", "value": "en"},
    ],
)
def test_similarity_search_filters_select_what_the_reference_evaluator_selects(store, flt):
    tree = parse_filter(translate_filter(flt))
    expected = {i for i, m in zip(IDS, METAS, strict=True) if matches(tree, m)}
    got = store.similarity_search("anything at all", k=len(TEXTS), filter=flt)
    assert {d.id for d in got} == expected
    assert all(d.metadata == METAS[IDS.index(d.id)] for d in got)


def test_own_text_ranks_first_and_scores_are_ordered(store):
    for i, text in enumerate(TEXTS):
        results = store.similarity_search_with_score(text, k=3)
        assert results[0][0].id == IDS[i]
        scores = [s for _, s in results]
        assert scores == sorted(scores, reverse=True)


def test_unknown_filter_key_and_operator_are_vecbridge_errors(store):
    with pytest.raises(FilterError, match="undeclared key 'colour' needs a number"):
        store.similarity_search("x", filter={"colour": {"$gt": "red"}})
    with pytest.raises(FilterError, match=r"\$regex"):
        store.similarity_search("x", filter={"lang": {"$regex": "e.*"}})


def test_relevance_scores_are_in_unit_interval_and_own_text_is_most_relevant(store):
    results = store.similarity_search_with_relevance_scores(TEXTS[3], k=len(TEXTS))
    assert results[0][0].id == IDS[3] and results[0][1] == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= r <= 1.0 for _, r in results)
    assert [r for _, r in results] == sorted((r for _, r in results), reverse=True)
    above = store.similarity_search_with_relevance_scores(TEXTS[3], k=len(TEXTS), score_threshold=0.99)
    assert [d.id for d, _ in above] == [IDS[3]]


def test_relevance_of_fused_hits_is_a_clear_error(hybrid_store):
    with pytest.raises(ConfigurationError, match="no relevance score"):
        hybrid_store.similarity_search_with_relevance_scores(TEXTS[0], k=2, mode="hybrid")


def test_search_by_vector_equals_search_by_text(store):
    vector = EMBEDDINGS.embed_query(TEXTS[1])
    by_vector = store.similarity_search_by_vector(vector, k=4, filter={"year": {"$gte": 2020}})
    by_text = store.similarity_search(TEXTS[1], k=4, filter={"year": {"$gte": 2020}})
    assert [d.id for d in by_vector] == [d.id for d in by_text]
    assert by_vector[0].id == IDS[1]


def test_max_marginal_relevance(store):
    near = store.similarity_search(TEXTS[0], k=3)
    plain = store.max_marginal_relevance_search(TEXTS[0], k=3, fetch_k=6, lambda_mult=1.0)
    assert [d.id for d in plain] == [d.id for d in near]  # lambda 1: relevance only
    diverse = store.max_marginal_relevance_search(TEXTS[0], k=3, fetch_k=6, lambda_mult=0.0)
    assert diverse[0].id == IDS[0] and len({d.id for d in diverse}) == 3


# ---- delete ----------------------------------------------------------------------------------------
def test_delete_by_ids_and_by_filter(store):
    assert store.delete(["d0", "nope"]) is True
    assert store.get_by_ids(["d0"]) == []
    assert store.delete([]) is True and store.index.count() == len(TEXTS) - 1
    assert store.delete(filter={"lang": "de"}) is True
    assert sorted(d.id for d in store.get_by_ids(IDS)) == ["d2", "d3", "d4"]
    with pytest.raises(ConfigurationError, match="unknown arguments"):
        store.delete(["d2"], where="x")


def test_delete_none_deletes_everything_and_the_store_stays_usable(store):
    assert store.delete() is True
    assert store.index.count() == 0 and store.similarity_search("x", k=3) == []
    store.add_texts(["back again"], [{"lang": "en", "year": 1}], ids=["z"])
    assert [d.id for d in store.similarity_search("back again", k=3)] == ["z"]
    assert asyncio.run(store.adelete()) is True and store.index.count() == 0


# ---- retrievers -------------------------------------------------------------------------------------
def test_as_retriever_passes_k_and_filter(store):
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"lang": "en"}})
    docs = retriever.invoke(TEXTS[2])
    assert [d.id for d in docs][0] == "d2" and len(docs) == 2 and all(d.metadata["lang"] == "en" for d in docs)


def test_hybrid_retriever_returns_the_index_hybrid_ranking(hybrid_store):
    index = hybrid_store.index
    retriever = hybrid_store.as_hybrid_retriever(k=4, score_key="score")
    for query in ["sea", "vector search", "rivers flow"]:
        expected = index.search(query, k=4, mode="hybrid")
        docs = retriever.invoke(query)
        assert [d.id for d in docs] == [h.id for h in expected]
        assert [d.metadata["score"] for d in docs] == [h.score for h in expected]
        assert [d.id for d in asyncio.run(retriever.ainvoke(query))] == [h.id for h in expected]
    assert all(h.retrievers == ["dense", "sparse"] for h in index.search("sea", k=2, mode="hybrid"))
    filtered = retriever.invoke("the sea", filter={"lang": "en"}, k=2)
    assert [d.id for d in filtered] == [
        h.id for h in index.search("the sea", k=2, filter={"key": "lang", "op": "==", "value": "en"})
    ]
    weighted = VecbridgeHybridRetriever(index=index, k=3, search_kwargs={"weights": {"dense": 0}})
    assert [d.id for d in weighted.invoke("sea")] == [h.id for h in index.search("sea", k=3, mode="sparse")]
    with pytest.raises(ConfigurationError, match="unknown arguments"):
        retriever.invoke("sea", colour="red")
    with pytest.raises(ConfigurationError, match="k=0"):
        VecbridgeHybridRetriever(index=index, k=0)
    with pytest.raises(ConfigurationError, match="HybridIndex or AsyncHybridIndex"):
        VecbridgeHybridRetriever(index="not an index")


def test_hybrid_retriever_over_an_async_index(lc_connector, hybrid_store):
    from vecbridge.connectors import ThreadedConnector

    expected = hybrid_store.index.search("the sea", k=3, mode="hybrid")

    async def run():
        index = AsyncHybridIndex(
            ThreadedConnector(lc_connector), hybrid_store.index.spec, list(hybrid_store.index.retrievers.values())
        )
        return await VecbridgeHybridRetriever(index=index, k=3).ainvoke("the sea")

    assert [d.id for d in asyncio.run(run())] == [h.id for h in expected]
    with pytest.raises(ConfigurationError, match="ainvoke"):
        VecbridgeHybridRetriever(
            index=AsyncHybridIndex(
                ThreadedConnector(lc_connector), hybrid_store.index.spec, list(hybrid_store.index.retrievers.values())
            )
        ).invoke("x")


# ---- construction ---------------------------------------------------------------------------------
def test_from_texts_and_from_documents_on_a_lite_file(tmp_path):
    """from_texts' default connector: a Milvus Lite file at ``uri``."""
    vs = VecbridgeVectorStore.from_texts(
        TEXTS[:3],
        EMBEDDINGS,
        METAS[:3],
        ids=IDS[:3],
        uri=str(tmp_path / "a.db"),
        collection_name="lc_from_texts",
        filterable=FILTERABLE,
    )
    try:
        assert vs.embeddings is EMBEDDINGS
        assert [d.id for d in vs.similarity_search(TEXTS[1], k=1, filter={"lang": "de"})] == ["d1"]
    finally:
        vs.index.close()
        vs.index.connector.close()
    docs = [LCDocument(id="x1", page_content="alpha"), LCDocument(page_content="beta")]
    vs2 = VecbridgeVectorStore.from_documents(docs, EMBEDDINGS, uri=str(tmp_path / "b.db"), collection_name="lc_docs")
    try:
        assert sorted(d.page_content for d in vs2.get_by_ids(["x1"])) == ["alpha"]
        assert vs2.index.count() == 2
    finally:
        vs2.index.connector.close()


def test_bad_input_raises_invalid_input_error_a_value_error(store):
    """Bad arguments raise vecbridge's InvalidInputError (a ConfigurationError and a ValueError, as
    LangChain callers expect), naming the argument; no pydantic error escapes."""
    cases = [
        (
            lambda: store.add_documents([LCDocument(page_content="a"), LCDocument(page_content="b")], ids=["1"]),
            "ids has 1 entries for 2 documents",
        ),
        (
            lambda: store.add_documents([LCDocument(id="x", page_content="a", metadata={"obj": object()})]),
            "document 'x'",
        ),
        (lambda: store.add_documents([LCDocument(page_content="a")], batch=3), "unknown arguments"),
        (lambda: store.delete(["a"], where=1), "unknown arguments"),
        (lambda: store.similarity_search("x", k=0), "k=0"),
        (lambda: VecbridgeVectorStore(object()), "HybridIndex"),  # type: ignore[arg-type]
        (lambda: LangChainEmbeddingsEncoder(EMBEDDINGS, dense_dim=-1), "dense_dim"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInputError, match=message) as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigurationError)


def test_nested_metadata_round_trips_unchanged(lc_connector, collection_name):
    """Any JSON metadata is stored and returned as is; a dotted filter key is a path into nested
    metadata (docs/filters.md), never a literal dotted key."""
    vs = VecbridgeVectorStore.create(lc_connector, collection_name, EMBEDDINGS, filterable={"lang": "string"})
    meta = {
        "source": {"file": "a.txt", "page": 3, "tags": ["x", None]},
        "source.file": "flat",
        "lang": "en",
        "none": None,
        "list of objects": [{"a": 1}],
    }
    vs.add_texts(["nested one", "nested two"], [meta, {"lang": "de", "source": {"file": "b.txt"}}], ids=["n1", "n2"])
    assert vs.get_by_ids(["n1"])[0].metadata == meta
    assert [(d.id, d.metadata) for d in vs.similarity_search("nested", k=2, filter={"lang": "en"})] == [("n1", meta)]
    assert [d.id for d in vs.similarity_search("nested", k=2, filter={"source.file": "b.txt"})] == ["n2"]
    assert vs.similarity_search("nested", k=2, filter={"source.file": "flat"}) == []


# ---- the embeddings adapter --------------------------------------------------------------------------
class _Constant(Embeddings):
    def __init__(self, vector):
        self.vector = vector

    def embed_documents(self, texts):
        return [list(self.vector) for _ in texts]

    def embed_query(self, text):
        return list(self.vector)


def test_embeddings_encoder_probes_dim_and_checks_shapes():
    enc = LangChainEmbeddingsEncoder(EMBEDDINGS)
    assert enc.dense_dim == 8 and enc.normalize is False
    out = enc.encode_documents(["a", "b"])
    assert out.dense.shape == (2, 8)
    np.testing.assert_allclose(out.dense[0], EMBEDDINGS.embed_documents(["a"])[0], rtol=1e-6)
    np.testing.assert_allclose(enc.encode_queries(["q"]).dense[0], EMBEDDINGS.embed_query("q"), rtol=1e-6)
    assert len(enc.encode_documents([])) == 0
    with pytest.raises(ConfigurationError, match=r"shape \(1, 3\); expected \(1, 8\)"):
        LangChainEmbeddingsEncoder(_Constant([1.0, 2.0, 3.0]), dense_dim=8).encode_documents(["a"])
    with pytest.raises(ConfigurationError, match="bad vectors"):
        LangChainEmbeddingsEncoder(_Constant([float("nan"), 1.0])).encode_queries(["a"])
    with pytest.raises(ConfigurationError, match="langchain_core Embeddings"):
        LangChainEmbeddingsEncoder(object())  # type: ignore[arg-type]


def test_metric_is_chosen_from_the_encoder_unless_given(lc_connector, collection_name):
    for normalize, metric in [(False, Metric.COSINE), (True, Metric.IP)]:
        vs = VecbridgeVectorStore.create(lc_connector, collection_name, EMBEDDINGS, normalize=normalize)
        assert vs.index.spec.metric is metric
        lc_connector.drop_collection(collection_name)  # type: ignore[attr-defined]
    vs = VecbridgeVectorStore.create(lc_connector, collection_name, EMBEDDINGS, metric=Metric.L2)
    assert vs.index.spec.metric is Metric.L2


def test_vecbridge_encoder_as_langchain_embeddings_and_store_embeddings(lc_connector, collection_name):
    from tests.facade.fakes import BagOfWordsEncoder
    from vecbridge.integrations.langchain import VecbridgeEmbeddings

    encoder = BagOfWordsEncoder()
    emb = VecbridgeEmbeddings(encoder)
    vectors = emb.embed_documents(["a b", "c"])
    np.testing.assert_allclose(vectors, encoder.encode_documents(["a b", "c"]).dense, rtol=1e-6)
    assert emb.embed_query("a b") == vectors[0] and emb.embed_documents([]) == []
    index = HybridIndex.create(lc_connector, collection_name, dense=encoder)
    vs = VecbridgeVectorStore(index)
    assert isinstance(vs.embeddings, VecbridgeEmbeddings) and vs.embeddings.encoder is encoder
    vs.add_texts(["red apples", "green pears"], ids=["a", "p"])
    assert [d.id for d in vs.similarity_search("pears", k=1)] == ["p"]
    with pytest.raises(ConfigurationError, match="no dense output"):
        VecbridgeEmbeddings(BM25Encoder())


def test_missing_keys_exists_and_dates(lc_connector, collection_name):
    from datetime import datetime, timezone

    vs = VecbridgeVectorStore.create(
        lc_connector, collection_name, EMBEDDINGS, filterable={"lang": "string", "published": "datetime"}
    )
    metas = [
        {"lang": "en", "published": "2021-03-01T00:00:00Z"},
        {"published": datetime(2023, 1, 1, tzinfo=timezone.utc)},
        {"lang": "de"},
        {},
    ]
    vs.add_texts(["a", "b", "c", "d"], metas, ids=["a", "b", "c", "d"])
    cases = [
        ({"lang": {"$exists": True}}, {"a", "c"}),
        ({"lang": {"$exists": False}}, {"b", "d"}),
        ({"lang": None}, {"b", "d"}),
        ({"lang": {"$ne": "en"}}, {"b", "c", "d"}),  # != includes missing (the one semantics, docs/filters.md)
        ({"lang": {"$nin": ["de"]}}, {"a", "b", "d"}),
        ({"published": {"$gte": "2022-01-01T00:00:00Z"}}, {"b"}),
        ({"published": {"$lt": datetime(2022, 1, 1)}}, {"a"}),
    ]
    for flt, expected in cases:
        assert {d.id for d in vs.similarity_search("x", k=10, filter=flt)} == expected, flt
    assert vs.get_by_ids(["d"])[0].metadata == {}


def test_async_methods_await_the_async_index_and_never_the_sync_one(lc_connector, collection_name, monkeypatch):
    from vecbridge.connectors import ThreadedConnector

    vs = VecbridgeVectorStore.create(
        lc_connector,
        collection_name,
        EMBEDDINGS,
        filterable=FILTERABLE,
        async_connector=ThreadedConnector(lc_connector),
    )
    for name in ("upsert", "search", "get", "delete"):
        monkeypatch.setattr(vs.index, name, lambda *a, **k: pytest.fail("the sync index was used"))

    async def run():
        ids = await vs.aadd_texts(TEXTS, METAS, ids=IDS)
        found = await vs.asimilarity_search_with_score(TEXTS[2], k=2, filter={"lang": "en"})
        got = await vs.aget_by_ids(["d1", "d1", "zz"])
        await vs.adelete(["d1"])
        await vs.adelete(filter={"year": {"$lt": 2021}})
        left = await vs.async_index.count()
        return ids, found, got, left

    ids, found, got, left = asyncio.run(run())
    assert ids == IDS
    assert found[0][0].id == "d2" and all(d.metadata["lang"] == "en" for d, _ in found)
    assert [d.id for d in got] == ["d1"]
    assert left == len(TEXTS) - 1 - 2  # d1, then d0 (2019) and d3 (2020)
    with pytest.raises(ConfigurationError, match="same collection spec"):
        VecbridgeVectorStore(vs.index, async_index=object())  # type: ignore[arg-type]


def test_async_relevance_by_vector_and_delete_all_through_the_async_index(lc_connector, collection_name, monkeypatch):
    from vecbridge.connectors import ThreadedConnector

    vs = VecbridgeVectorStore.create(
        lc_connector,
        collection_name,
        EMBEDDINGS,
        filterable=FILTERABLE,
        async_connector=ThreadedConnector(lc_connector),
    )
    vs.add_texts(TEXTS, METAS, ids=IDS)
    sync_relevance = vs.similarity_search_with_relevance_scores(TEXTS[4], k=3)
    sync_by_vector = vs.similarity_search_by_vector(EMBEDDINGS.embed_query(TEXTS[4]), k=3, filter={"lang": "en"})
    for name in ("search", "search_by_vector", "delete_all"):
        monkeypatch.setattr(vs.index, name, lambda *a, **k: pytest.fail("the sync index was used"))

    async def run():
        relevance = await vs.asimilarity_search_with_relevance_scores(TEXTS[4], k=3)
        by_vector = await vs.asimilarity_search_by_vector(EMBEDDINGS.embed_query(TEXTS[4]), k=3, filter={"lang": "en"})
        await vs.adelete()
        return relevance, by_vector, await vs.async_index.count()

    relevance, by_vector, left = asyncio.run(run())
    assert [(d.id, pytest.approx(r)) for d, r in relevance] == [(d.id, r) for d, r in sync_relevance]
    assert relevance[0][0].id == IDS[4] and relevance[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [d.id for d in by_vector] == [d.id for d in sync_by_vector] and by_vector[0].id == IDS[4]
    assert left == 0


def test_async_max_marginal_relevance_awaits_the_async_index_and_matches_the_sync_one(
    lc_connector, collection_name, monkeypatch
):
    from vecbridge.connectors import ThreadedConnector

    vs = VecbridgeVectorStore.create(
        lc_connector,
        collection_name,
        EMBEDDINGS,
        filterable=FILTERABLE,
        async_connector=ThreadedConnector(lc_connector),
    )
    vs.add_texts(TEXTS, METAS, ids=IDS)
    expected = [
        vs.max_marginal_relevance_search(TEXTS[0], k=3, fetch_k=6, lambda_mult=lm, filter={"lang": "en"})
        for lm in (1.0, 0.0)
    ]
    for name in ("search_by_vector", "get"):
        monkeypatch.setattr(vs.index, name, lambda *a, **k: pytest.fail("the sync index was used"))

    async def run():
        return [
            await vs.amax_marginal_relevance_search(TEXTS[0], k=3, fetch_k=6, lambda_mult=lm, filter={"lang": "en"})
            for lm in (1.0, 0.0)
        ]

    got = asyncio.run(run())
    assert [[d.id for d in docs] for docs in got] == [[d.id for d in docs] for docs in expected]
    assert all(d.metadata["lang"] == "en" for docs in got for d in docs) and got[0]
