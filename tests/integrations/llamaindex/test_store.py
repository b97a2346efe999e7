"""VecbridgeVectorStore through LlamaIndex's public API (VectorStoreIndex, retrievers) on Milvus Lite."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document as LlamaDocument, StorageContext, VectorStoreIndex
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from tests.integrations.llamaindex.conftest import open_store
from vecbridge import ConfigurationError, FilterError, HybridIndex, MilvusConnector, WriteError, parse_filter
from vecbridge.integrations.llamaindex import VecbridgeEmbedding, VecbridgeVectorStore

needs_store = pytest.mark.xfail(
    not hasattr(HybridIndex, "search_by_vector"), strict=True, reason="needs search_by_vector from branch store"
)
needs_iterate = pytest.mark.xfail(
    not hasattr(HybridIndex, "iterate"), strict=True, reason="needs HybridIndex.iterate from branch store"
)
needs_delete_all = pytest.mark.xfail(
    not hasattr(HybridIndex, "delete_all"), strict=True, reason="needs HybridIndex.delete_all from branch store"
)


DOCS = [
    ("milvus", "Milvus is a vector database built for similarity search", 2021, "en"),
    ("river", "The Yangtze river is the longest river in China", 2019, "en"),
    ("lucene", "Elasticsearch is a search engine built on Lucene", 2020, "en"),
    ("wine", "Le vin rouge de Bordeaux", 2018, "fr"),
]


def build(store, encoder):
    docs = [LlamaDocument(id_=i, text=t, metadata={"year": y, "lang": lang}) for i, t, y, lang in DOCS]
    return VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=VecbridgeEmbedding(encoder)
    )


def refs(retriever, query):
    return [n.node.ref_doc_id for n in retriever.retrieve(query)]


def test_from_documents_stores_one_vecbridge_document_per_node(store, encoder):
    index = build(store, encoder)
    assert store.index.count() == len(DOCS)
    everything = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=10)
    by_ref = {n.node.ref_doc_id: n.node for n in everything.retrieve("Milvus Yangtze Elasticsearch Bordeaux")}
    assert set(by_ref) == {d[0] for d in DOCS}
    node = by_ref["river"]
    assert node.text == DOCS[1][1] and node.metadata == {"year": 2019, "lang": "en"}
    raw = store.index.get([node.node_id])[0]
    assert raw.text == DOCS[1][1] and raw.metadata["ref_doc_id"] == "river" and raw.metadata["year"] == 2019
    assert raw.metadata["_node_type"] == "TextNode" and "_node_content" in raw.metadata
    assert [n.node_id for n in store.get_nodes([node.node_id])] == [node.node_id]


@pytest.mark.parametrize("mode", ["text_search", "sparse", "hybrid"])
def test_query_string_modes_find_the_matching_document_first(store, encoder, mode):
    index = build(store, encoder)
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=2)
    assert refs(retriever, "longest river")[0] == "river"
    assert refs(retriever, "vector database")[0] == "milvus"


@needs_store
def test_default_mode_searches_by_the_query_embedding(store, encoder):
    index = build(store, encoder)
    retriever = index.as_retriever(similarity_top_k=4)
    assert refs(retriever, "longest river")[0] == "river"
    assert len(refs(retriever, "longest river")) == 4


def test_default_mode_calls_search_by_vector_with_the_query_embedding(store, encoder, monkeypatch):
    """The adapter's side of the contract (``search_by_vector(vector, k, filter, retriever)``), with a
    stand-in on the index until the real one lands (test_default_mode_searches_by_the_query_embedding)."""
    calls = []

    def search_by_vector(self, vector, k=10, filter=None, retriever="dense"):
        calls.append((vector, k, filter, retriever))
        return self.connector.search_dense(self.spec.name, vector, k, filter)

    monkeypatch.setattr(HybridIndex, "search_by_vector", search_by_vector, raising=False)
    index = build(store, encoder)
    filters = MetadataFilters(filters=[MetadataFilter(key="lang", value="en")])
    retriever = index.as_retriever(similarity_top_k=3, filters=filters)
    found = refs(retriever, "longest river")
    assert found[0] == "river" and len(found) == 3 and "wine" not in found  # wine is the only 'fr' document
    (vector, k, filter_, name), *_ = calls
    assert vector == pytest.approx(encoder.encode_queries(["longest river"]).dense[0].tolist())
    assert (k, name) == (3, "dense") and filter_ == parse_filter({"key": "lang", "op": "==", "value": "en"})
    hybrid_without_text = store.query(VectorStoreQuery(query_embedding=vector, mode="hybrid", similarity_top_k=2))
    assert calls[-1][:2] == (vector, 2)
    assert hybrid_without_text.ids == [h.id for h in store.index.connector.search_dense("li", vector, 2)]


def test_sparse_and_text_search_use_different_retrievers(store, encoder):
    build(store, encoder)
    assert store._lexical(VectorStoreQueryMode.SPARSE) == "sparse"
    assert store._lexical(VectorStoreQueryMode.TEXT_SEARCH) == "text"
    sparse = store.query(VectorStoreQuery(query_str="river", mode="sparse", similarity_top_k=1))
    text = store.query(VectorStoreQuery(query_str="river", mode="text_search", similarity_top_k=1))
    expected_sparse = store.index.search("river", k=1, retrievers=["sparse"])
    expected_text = store.index.search("river", k=1, retrievers=["text"])
    assert sparse.similarities == [h.score for h in expected_sparse]
    assert text.similarities == [h.score for h in expected_text]
    assert sparse.similarities != text.similarities


def test_alpha_maps_to_fusion_weights(store, encoder):
    build(store, encoder)
    assert store._weights(0.25) == {"text": 0.75, "dense": 0.25, "sparse": 0.75}
    assert store._weights(None) is None
    with pytest.raises(ConfigurationError, match="alpha must be in"):
        store._weights(1.5)
    query = "search engine for vectors"
    for alpha, retrievers in [(1.0, ["dense"]), (0.0, ["text", "sparse"])]:
        result = store.query(VectorStoreQuery(query_str=query, mode="hybrid", alpha=alpha, similarity_top_k=4))
        expected = store.index.search(query, k=4, retrievers=retrievers)
        assert result.ids == [h.id for h in expected]
        assert result.similarities == pytest.approx([h.score for h in expected])
    half = store.query(VectorStoreQuery(query_str=query, mode="hybrid", alpha=0.5, similarity_top_k=4))
    assert half.ids == [h.id for h in store.index.search(query, k=4)]  # equal weights = vecbridge's default


def test_hybrid_top_k_and_sparse_top_k_are_honoured(store, encoder):
    build(store, encoder)
    q = VectorStoreQuery(query_str="search", mode="hybrid", similarity_top_k=1, hybrid_top_k=3)
    assert len(store.query(q).ids) == 3
    q = VectorStoreQuery(query_str="search Lucene Milvus", mode="sparse", similarity_top_k=1, sparse_top_k=2)
    assert len(store.query(q).ids) == 2


def test_default_mode_without_embedding_encodes_the_query_string(store, encoder):
    build(store, encoder)
    result = store.query(VectorStoreQuery(query_str="longest river", similarity_top_k=2))
    assert result.ids == [h.id for h in store.index.search("longest river", k=2, mode="dense")]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=FilterOperator.GTE)]),
            {"milvus", "lucene"},
        ),
        (
            MetadataFilters(
                filters=[
                    MetadataFilter(key="lang", value="fr"),
                    MetadataFilter(key="year", value=2019, operator=FilterOperator.LTE),
                ],
                condition=FilterCondition.OR,
            ),
            {"river", "wine"},
        ),
        (
            MetadataFilters(
                filters=[
                    MetadataFilter(key="year", value=[2019, 2021], operator=FilterOperator.NIN),
                    MetadataFilters(filters=[MetadataFilter(key="lang", value="fr")], condition=FilterCondition.NOT),
                ]
            ),
            {"lucene"},
        ),
    ],
)
@pytest.mark.parametrize("mode", ["text_search", "hybrid"])
def test_filters_restrict_every_mode(store, encoder, filters, expected, mode):
    index = build(store, encoder)
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=10, filters=filters)
    assert set(refs(retriever, "Milvus Yangtze Elasticsearch Bordeaux vin search river")) == expected


def test_unsupported_filter_operator_raises_filter_error(store, encoder):
    index = build(store, encoder)
    filters = MetadataFilters(filters=[MetadataFilter(key="lang", value="e", operator=FilterOperator.TEXT_MATCH)])
    with pytest.raises(FilterError, match="text_match"):
        index.as_retriever(vector_store_query_mode="hybrid", filters=filters).retrieve("search")


def test_undeclared_filter_keys_read_the_stored_metadata(store, encoder):
    index = build(store, encoder)
    filters = MetadataFilters(filters=[MetadataFilter(key="author", value="x")])
    assert index.as_retriever(vector_store_query_mode="hybrid", filters=filters).retrieve("search") == []
    ranged = MetadataFilters(filters=[MetadataFilter(key="author", value="x", operator=FilterOperator.GT)])
    with pytest.raises(FilterError, match="undeclared key 'author' needs a number"):
        index.as_retriever(vector_store_query_mode="hybrid", filters=ranged).retrieve("search")


def test_filters_on_nodes_of_given_ids_are_validated_like_store_filters(store, encoder):
    store.add(split_document_nodes(encoder))
    undeclared = MetadataFilters(filters=[MetadataFilter(key="author", value="x", operator=FilterOperator.GT)])
    with pytest.raises(FilterError, match="author"):
        store.get_nodes(["long-0"], filters=undeclared)
    with pytest.raises(FilterError, match="author"):
        store.delete_nodes(["long-0"], filters=undeclared)
    assert store.index.count() == 4


def test_doc_ids_restrict_the_query(store, encoder):
    index = build(store, encoder)
    retriever = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=10, doc_ids=["wine", "river"])
    assert sorted(refs(retriever, "search river vin")) == ["river", "wine"]


def split_document_nodes(encoder):
    """Three nodes of document 'long' and one of 'short', with embeddings from the encoder."""
    texts = {"long-0": "alpha beta", "long-1": "gamma delta", "long-2": "epsilon zeta", "short-0": "eta theta"}
    nodes = []
    for node_id, text in texts.items():
        ref = node_id.split("-")[0]
        node = TextNode(
            id_=node_id,
            text=text,
            metadata={"year": 2000, "lang": "en"},
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=ref)},
        )
        node.embedding = encoder.encode_documents([text]).dense[0].tolist()
        nodes.append(node)
    return nodes


def test_delete_by_ref_doc_id_removes_every_node_of_the_document(store, encoder):
    index = build(store, encoder)
    store.add(split_document_nodes(encoder))
    assert store.index.count() == len(DOCS) + 4
    index.delete_ref_doc("long")
    assert store.index.count() == len(DOCS) + 1
    assert [n.node_id for n in store.get_nodes(["long-0", "long-1", "long-2", "short-0"])] == ["short-0"]
    index.delete_ref_doc("river")
    assert "river" not in refs(
        index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=10), "longest river China"
    )


def test_delete_nodes_by_ids_and_filters(store, encoder):
    store.add(split_document_nodes(encoder))
    store.delete_nodes(["long-0"])
    assert store.index.count() == 3
    store.delete_nodes(["long-1", "short-0"], filters=MetadataFilters(filters=[MetadataFilter(key="lang", value="xx")]))
    assert store.index.count() == 3  # ids given, but none matches the filter
    store.delete_nodes(["long-1", "short-0"], filters=MetadataFilters(filters=[MetadataFilter(key="year", value=2000)]))
    assert [n.node_id for n in store.get_nodes(["long-1", "long-2", "short-0"])] == ["long-2"]
    store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="year", value=2000)]))
    assert store.index.count() == 0


def test_get_nodes_round_trips_node_content(store, encoder):
    nodes = split_document_nodes(encoder)
    nodes[0].metadata["title"] = "Alpha"
    nodes[0].excluded_llm_metadata_keys = ["year"]
    store.add(nodes)
    got = store.get_nodes(["short-0", "long-0", "nope"])
    assert [n.node_id for n in got] == ["short-0", "long-0"]
    assert got[1].text == "alpha beta" and got[1].metadata == {"year": 2000, "lang": "en", "title": "Alpha"}
    assert got[1].ref_doc_id == "long" and got[1].excluded_llm_metadata_keys == ["year"]
    filtered = store.get_nodes(
        ["short-0", "long-0"], filters=MetadataFilters(filters=[MetadataFilter(key="lang", value="en")])
    )
    assert len(filtered) == 2


@needs_iterate
def test_get_nodes_by_filter_alone(store, encoder):
    store.add(split_document_nodes(encoder))
    got = store.get_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="year", value=2000)]))
    assert sorted(n.node_id for n in got) == ["long-0", "long-1", "long-2", "short-0"]


@needs_delete_all
def test_clear_empties_the_collection_and_keeps_it(store, encoder):
    build(store, encoder)
    store.clear()
    assert store.index.count() == 0
    store.add(split_document_nodes(encoder))
    assert store.index.count() == 4


def test_nodes_without_embeddings_are_embedded_with_the_dense_encoder(store, encoder):
    nodes = split_document_nodes(encoder)
    for node in nodes:
        node.embedding = None
    store.add(nodes)
    dense = store.index.search("gamma delta", k=1, mode="dense")[0]
    assert dense.id == "long-1" and dense.score == pytest.approx(1.0, abs=1e-5)


def test_an_embedding_of_the_wrong_size_is_refused_and_the_others_written(store, encoder):
    nodes = split_document_nodes(encoder)
    nodes[0].embedding = [0.1] * 3
    message = r"document 'long-0': dense has 3 values; collection 'li' has dense_dim 32"
    with pytest.raises(WriteError, match=message) as info:
        store.add(nodes)
    assert list(info.value.failed) == ["long-0"] and info.value.written == 3
    assert store.index.count() == 3


def test_embeddings_are_written_as_given_and_missing_ones_encoded(store, encoder):
    nodes = split_document_nodes(encoder)
    given = [0.0] * 32
    given[7] = 1.0  # not what the encoder gives for its text
    nodes[0].embedding, nodes[1].embedding = given, None
    store.add(nodes)
    stored = {d.id: d for d in store.index.get(["long-0", "long-1"], with_vectors=True)}
    assert stored["long-0"].dense == given
    expected = encoder.encode_documents([nodes[1].get_content()]).dense[0]
    assert stored["long-1"].dense == pytest.approx(expected.tolist())


def test_an_invalid_node_is_reported_and_the_others_are_written(store, encoder):
    nodes = split_document_nodes(encoder)
    nodes[1].id_ = "x" * 600  # longer than a vecbridge id may be
    with pytest.raises(WriteError) as info:
        store.add(nodes)
    assert list(info.value.failed) == ["x" * 600] and info.value.written == 3
    assert store.index.count() == 3


def test_a_store_rejection_reports_the_rejected_node_and_writes_the_others(store, encoder):
    store.index.batch_size = 2
    nodes = split_document_nodes(encoder)
    nodes[0].set_content("word " * 20000)  # 100,000 bytes: over the collection's text_max_length
    with pytest.raises(WriteError) as info:
        store.add(nodes)
    assert set(info.value.failed) == {"long-0"} and info.value.written == 3
    kept = store.get_nodes(["long-0", "long-1", "long-2", "short-0"])
    assert [n.node_id for n in kept] == ["long-1", "long-2", "short-0"]


def test_flat_metadata_refuses_nested_values_with_a_write_error(store, encoder):
    store.flat_metadata = True
    nodes = split_document_nodes(encoder)
    nodes[0].metadata["source"] = {"file": "a.pdf"}
    with pytest.raises(WriteError, match="node 'long-0'") as info:
        store.add(nodes)
    assert list(info.value.failed) == ["long-0"] and info.value.written == 3


def test_nested_metadata_round_trips(store, encoder):
    node = split_document_nodes(encoder)[0]
    extra = {"source": {"file": "a.pdf", "pages": [1, 2]}, "source.file": "a.pdf", "file name": "a", "none": None}
    node.metadata.update(extra)
    store.add([node])
    assert store.get_nodes(["long-0"])[0].metadata == {"year": 2000, "lang": "en", **extra}
    stored = store.index.get(["long-0"])[0].metadata
    assert {k: stored[k] for k in extra} == extra


def test_persistence_across_reopen(tmp_path, encoder):
    first = open_store(tmp_path, encoder)
    build(first, encoder)
    before = refs(
        VectorStoreIndex.from_vector_store(first, embed_model=VecbridgeEmbedding(encoder)).as_retriever(
            vector_store_query_mode="hybrid", similarity_top_k=3
        ),
        "search engine",
    )
    first.index.connector.close()
    again = open_store(tmp_path, encoder)
    try:
        index = VectorStoreIndex.from_vector_store(again, embed_model=VecbridgeEmbedding(encoder))
        retriever = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=3)
        assert refs(retriever, "search engine") == before and len(before) == 3
        index.delete_ref_doc("lucene")
        assert again.index.count() == len(DOCS) - 1
    finally:
        again.index.connector.close()


def test_an_index_without_ref_doc_id_is_refused(tmp_path, encoder):
    index = HybridIndex.create(MilvusConnector(uri=str(tmp_path / "plain.db")), "plain", dense=encoder)
    try:
        with pytest.raises(ConfigurationError, match="declare filterable {'ref_doc_id': 'string'}"):
            VecbridgeVectorStore(index)
    finally:
        index.connector.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.MMR), "query mode 'mmr' is not supported"),
        (VectorStoreQuery(query_str="x", node_ids=["a"]), "node_ids is not supported"),
        (VectorStoreQuery(mode=VectorStoreQueryMode.SPARSE), "needs query_str"),
        (VectorStoreQuery(), "needs query_embedding or query_str"),
    ],
)
def test_unsupported_queries_raise_configuration_errors(store, query, message):
    with pytest.raises(ConfigurationError, match=message):
        store.query(query)


def test_plain_vecbridge_documents_come_back_as_text_nodes(store, encoder):
    from vecbridge import Document

    store.index.upsert(
        [Document(id="plain", text="kappa lambda", metadata={"year": 1, "lang": "en", "ref_doc_id": "p"})]
    )
    node = store.query(VectorStoreQuery(query_str="kappa", mode="text_search", similarity_top_k=1)).nodes[0]
    assert isinstance(node, TextNode) and node.node_id == "plain" and node.text == "kappa lambda"
    assert node.metadata["year"] == 1


def test_embedding_adapter_matches_the_encoder(encoder):
    embed = VecbridgeEmbedding(encoder)
    assert embed.get_query_embedding("a b") == pytest.approx(encoder.encode_queries(["a b"]).dense[0].tolist())
    assert embed.get_text_embedding_batch(["a", "b c"]) == [
        pytest.approx(v) for v in encoder.encode_documents(["a", "b c"]).dense.tolist()
    ]
    assert embed.model_name == "bag-of-words"


def test_datetime_metadata_filters_by_range(tmp_path, encoder):
    from datetime import datetime

    store = VecbridgeVectorStore.create(
        MilvusConnector(uri=str(tmp_path / "dates.db")),
        "dates",
        dense=encoder,
        sparse=encoder,
        filterable={"created": "datetime"},
    )
    try:
        nodes = split_document_nodes(encoder)
        for day, node in enumerate(nodes, 1):
            node.metadata = {"created": datetime(2024, 1, day, 12)}  # LlamaIndex stores it as an ISO string
        store.add(nodes)
        after = MetadataFilters(
            filters=[MetadataFilter(key="created", value="2024-01-02T12:00:00", operator=FilterOperator.GT)]
        )
        found = store.query(
            VectorStoreQuery(query_str="alpha gamma epsilon eta", mode="sparse", similarity_top_k=10, filters=after)
        )
        assert sorted(found.ids) == ["long-2", "short-0"]
        assert [n.node_id for n in store.get_nodes(["long-0", "long-2"], filters=after)] == ["long-2"]
        assert store.get_nodes(["long-0"])[0].metadata == {"created": "2024-01-01T12:00:00"}
    finally:
        store.index.connector.close()


def test_nodes_may_lack_filterable_keys_and_filters_read_them_as_null(store, encoder):
    build(store, encoder)
    bare = TextNode(
        id_="bare",
        text="Milvus without metadata",
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="bare-doc")},
    )
    store.add([bare])
    query = "Milvus Yangtze Elasticsearch Bordeaux"

    def found(*filters, condition=FilterCondition.AND):
        q = VectorStoreQuery(
            query_str=query,
            mode="text_search",
            similarity_top_k=10,
            filters=MetadataFilters(filters=list(filters), condition=condition),
        )
        return sorted(n.ref_doc_id for n in store.query(q).nodes)

    assert found(MetadataFilter(key="year", value=2021, operator=FilterOperator.NE)) == [
        "bare-doc",
        "lucene",
        "river",
        "wine",
    ]
    assert found(MetadataFilter(key="lang", value=["en"], operator=FilterOperator.NIN)) == ["bare-doc", "wine"]
    assert found(MetadataFilter(key="year", value=2000, operator=FilterOperator.GT)) == [
        "lucene",
        "milvus",
        "river",
        "wine",
    ]
