"""``VecbridgeDocumentStore`` and the retriever components beyond Haystack's own suite: write
policies, documents without embeddings, bad input, serialization, retrieval in a pipeline."""

from __future__ import annotations

import pytest

pytest.importorskip("haystack")

from haystack import Pipeline  # noqa: E402
from haystack.dataclasses import ByteStream, Document, SparseEmbedding  # noqa: E402
from haystack.document_stores.errors import DuplicateDocumentError as HaystackDuplicate  # noqa: E402
from haystack.document_stores.types import DuplicatePolicy  # noqa: E402

from vecbridge.integrations.haystack import (  # noqa: E402
    DocumentError,
    FilterError,
    VecbridgeDocumentStore,
    VecbridgeEmbeddingRetriever,
    VecbridgeHybridRetriever,
)
from vecbridge.schemas.errors import VecbridgeError  # noqa: E402

YEARS = {"year": "int"}
DIM = 4


def _docs():
    return [
        Document(id="a", content="rivers flow into the sea", meta={"year": 2021}, embedding=[1.0, 0, 0, 0]),
        Document(id="b", content="the sea is salty and deep", meta={"year": 2019}, embedding=[0, 1.0, 0, 0]),
        Document(id="c", content="mountains are high", meta={"year": 2023}),  # no embedding
    ]


@pytest.fixture
def store(make_store):
    return make_store(embedding_dim=DIM, filterable=YEARS)


def test_policies(store):
    assert store.write_documents(_docs()) == 3
    with pytest.raises(HaystackDuplicate) as info:
        store.write_documents([Document(id="a", content="x", meta={"year": 1})], policy=DuplicatePolicy.FAIL)
    assert isinstance(info.value, VecbridgeError) and "'a'" in str(info.value)
    new = Document(id="d", content="new", meta={"year": 2000})
    assert (
        store.write_documents([Document(id="a", content="changed", meta={"year": 1}), new], DuplicatePolicy.SKIP) == 1
    )
    assert store.index.get(["a"])[0].text == "rivers flow into the sea"
    assert (
        store.write_documents([Document(id="a", content="changed", meta={"year": 1})], DuplicatePolicy.OVERWRITE) == 1
    )
    assert store.index.get(["a"])[0].text == "changed"
    assert store.count_documents() == 4


def test_fail_policy_refuses_ids_repeated_in_one_call_and_writes_nothing(store):
    doc = Document(id="x", content="one", meta={"year": 1})
    with pytest.raises(HaystackDuplicate):
        store.write_documents([doc, Document(id="x", content="two", meta={"year": 1})])
    assert store.count_documents() == 0


def test_documents_without_embedding_are_stored_and_never_found_by_vector(store):
    store.write_documents(_docs())
    assert [d.id for d in store.index.get(["a", "b", "c"])] == ["a", "b", "c"]
    assert store.count_documents_by_filter({"field": "meta.year", "operator": ">", "value": 2020}) == 2
    hits = store.index.connector.search_dense(store.collection, [1.0, 1.0, 1.0, 1.0], 10)
    assert {h.id for h in hits} == {"a", "b"}


def test_filter_documents_returns_embeddings_as_written(store):
    store.write_documents(_docs())
    got = {d.id: d for d in store.filter_documents({"field": "meta.year", "operator": ">=", "value": 2020})}
    assert sorted(got) == ["a", "c"]
    assert got["a"].embedding == [1.0, 0, 0, 0] and got["c"].embedding is None
    assert got["c"].meta == {"year": 2023} and got["c"].content == "mountains are high"


@pytest.mark.parametrize(
    "doc, fragment",
    [
        (Document(id="n", content=None, meta={"year": 1}), "content is None"),
        (Document(id="b", content="x", blob=ByteStream(b"raw"), meta={"year": 1}), "blob"),
        (
            Document(id="e", content="x", meta={"year": 1}, embedding=[1.0, 2.0]),
            "embedding rejected: .*dense has 2 values",
        ),
        (
            Document(id="s", content="x", meta={"year": 1}, sparse_embedding=SparseEmbedding([1], [0.5])),
            "sparse_embeddings=True",
        ),
    ],
)
def test_documents_vecbridge_cannot_store_raise_value_errors(store, doc, fragment):
    with pytest.raises(DocumentError, match=fragment) as info:
        store.write_documents([doc])
    assert isinstance(info.value, ValueError)
    assert store.count_documents() == 0


def test_sparse_embeddings_round_trip_through_sparse_search(make_store):
    store = make_store(embedding_dim=DIM, filterable=YEARS, sparse_embeddings=True)
    store.write_documents(
        [
            Document(
                id="s1",
                content="one",
                meta={"year": 1},
                embedding=[1.0, 0, 0, 0],
                sparse_embedding=SparseEmbedding(indices=[3, 7], values=[0.5, 1.5]),
            ),
            Document(id="s2", content="two", meta={"year": 2}, embedding=[0, 1.0, 0, 0]),  # no sparse embedding
        ]
    )
    from vecbridge.schemas import SparseVector

    hits = store.index.connector.search_sparse(store.collection, SparseVector(indices=[7], values=[1.0]), 5)
    assert [h.id for h in hits] == ["s1"]
    assert store.count_documents() == 2


def test_bad_filters_raise_haystack_and_vecbridge_filter_errors(store):
    store.write_documents(_docs())
    assert store.count_documents_by_filter({"field": "meta.undeclared", "operator": "==", "value": 1}) == 0
    for bad in (
        {"field": "meta.undeclared", "operator": ">", "value": "a"},
        {"field": "meta.year", "operator": ">", "value": "2020"},
        {"field": "meta.year", "operator": "in", "value": (2019, 2021)},
    ):
        with pytest.raises(FilterError):
            store.count_documents_by_filter(bad)
    with pytest.raises(FilterError, match="delete_all_documents"):
        store.delete_by_filter({})


def test_store_and_components_serialize(tmp_path):
    store = VecbridgeDocumentStore(
        uri=str(tmp_path / "s.db"), collection="ser", embedding_dim=8, filterable={"year": "int"}, metric="IP"
    )
    data = store.to_dict()
    assert data["type"].endswith("haystack.VecbridgeDocumentStore")
    again = VecbridgeDocumentStore.from_dict(data)
    assert again.to_dict() == data and again._index is None  # nothing opened
    for cls, extra in ((VecbridgeHybridRetriever, {"mode": "text"}), (VecbridgeEmbeddingRetriever, {})):
        retriever = cls(
            document_store=store, top_k=3, filters={"field": "meta.year", "operator": "==", "value": 1}, **extra
        )
        copy = cls.from_dict(retriever.to_dict())
        assert copy.to_dict() == retriever.to_dict() and copy.document_store.to_dict() == data


def test_configuration_errors():
    from vecbridge.schemas.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="backend"):
        VecbridgeDocumentStore(backend="faiss")
    with pytest.raises(ConfigurationError, match="es_url"):
        VecbridgeDocumentStore(backend="elasticsearch")
    with pytest.raises(ConfigurationError, match="VecbridgeDocumentStore"):
        VecbridgeHybridRetriever(document_store=object())
    with pytest.raises(ConfigurationError, match="mode"):
        VecbridgeHybridRetriever(document_store=VecbridgeDocumentStore(), mode="fuzzy")


def test_query_texts_need_a_model_or_text_search(make_store):
    """Without a dense model the documents' embeddings are searched by vector only: a text query
    in dense mode is refused with a pointer to VecbridgeEmbeddingRetriever."""
    from vecbridge.schemas.errors import ConfigurationError

    store = make_store(embedding_dim=DIM, filterable=YEARS)
    store.write_documents(_docs())
    assert store.text_retrievers() == ["text"]
    with pytest.raises(ConfigurationError, match="VecbridgeEmbeddingRetriever"):
        VecbridgeHybridRetriever(document_store=store, mode="dense").run(query="sea")


def test_text_retriever_in_a_pipeline(store):
    store.write_documents(_docs())
    pipeline = Pipeline()
    pipeline.add_component("retriever", VecbridgeHybridRetriever(document_store=store, top_k=5, mode="text"))
    docs = pipeline.run({"retriever": {"query": "sea"}})["retriever"]["documents"]
    assert {d.id for d in docs} == {"a", "b"} and all(d.score > 0 for d in docs)
    filtered = pipeline.run(
        {"retriever": {"query": "sea", "filters": {"field": "meta.year", "operator": ">", "value": 2020}}}
    )
    assert [d.id for d in filtered["retriever"]["documents"]] == ["a"]


def test_embedding_retriever(store):
    store.write_documents(_docs())
    retriever = VecbridgeEmbeddingRetriever(document_store=store, top_k=5)
    docs = retriever.run(query_embedding=[0.9, 0.1, 0, 0])["documents"]
    assert [d.id for d in docs] == ["a", "b"]  # "c" has no embedding
    assert 0 <= docs[1].score <= docs[0].score <= 1


def test_nested_meta_is_stored_unchanged_and_dates_filter(make_store):
    store = make_store(embedding_dim=DIM, filterable={"date": "datetime", "year": "int"})
    meta = {"source": {"file": "a.pdf", "pages": [1, 2]}, "date": "1969-07-21T20:17:40", "tags": ["x"]}
    store.write_documents(
        [Document(id="n1", content="moon landing", meta=meta), Document(id="n2", content="no date", meta={"year": 1})]
    )
    assert store.index.get(["n1"])[0].metadata == meta
    after = {"field": "meta.date", "operator": ">", "value": "1969-01-01T00:00:00"}
    assert store.count_documents_by_filter(after) == 1
    assert store.count_documents_by_filter({"field": "meta.date", "operator": "==", "value": None}) == 1
    with pytest.raises(FilterError):
        store.count_documents_by_filter({"field": "meta.date", "operator": ">", "value": "yesterday"})


def test_update_by_filter_builds_new_documents_without_haystack_mutation_warning(store, caplog, recwarn):
    """Haystack warns when a Document's ``meta`` is mutated in place; updates build new documents."""
    import logging

    store.write_documents(_docs())
    with caplog.at_level(logging.DEBUG):
        updated = store.update_by_filter({"field": "meta.year", "operator": ">=", "value": 2020}, {"tag": "recent"})
    assert updated == 2
    messages = [r.getMessage() for r in caplog.records] + [str(w.message) for w in recwarn]
    assert not [m for m in messages if "Mutating attribute" in m], messages
    tags = {d.id: d.metadata.get("tag") for d in store.index.get(["a", "b", "c"])}
    assert tags == {"a": "recent", "b": None, "c": "recent"}
    assert store.index.get(["a"], with_vectors=True)[0].dense is not None  # vectors kept
