"""Documents that bring their own vectors go through the one write path (``HybridIndex.upsert``):
given vectors are stored as given, only the missing rows (per field) are encoded, bad vectors fail
their document alone with a reason naming the field and the value."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import ValidationError

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex, Retriever, RetrieverKind
from vecbridge.connectors import ThreadedConnector
from vecbridge.ingest import ingest
from vecbridge.schemas import ConfigurationError, Document, SparseVector, VectorDocument

DIM = BagOfWordsEncoder.dense_dim


class RecordingEncoder(BagOfWordsEncoder):
    """``BagOfWordsEncoder`` that keeps the texts of every ``encode_documents`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.document_calls: list[list[str]] = []

    def encode_documents(self, texts):
        self.document_calls.append(list(texts))
        return self._encode(texts)


def unit(i: int) -> list[float]:
    vector = [0.0] * DIM
    vector[i] = 1.0
    return vector


SPARSE = SparseVector(indices=[5, 9], values=[0.25, 2.0])


def index_with(encoder=None, **kwargs) -> HybridIndex:
    encoder = encoder or RecordingEncoder()
    return HybridIndex.create(InMemoryConnector(), "v", dense=encoder, sparse=encoder, **kwargs)


def stored(index, ids):
    return {d.id: d for d in index.get(ids, with_vectors=True)}


def test_all_vectors_given_encodes_nothing_and_stores_them_as_given():
    encoder = RecordingEncoder()
    index = index_with(encoder)
    docs = [VectorDocument(id=f"d{i}", text=f"text {i}", dense=unit(i), sparse={"sparse": SPARSE}) for i in range(3)]
    report = index.upsert(docs)
    assert (report.written, report.failed, encoder.document_calls) == (3, {}, [])
    got = stored(index, ["d0", "d1", "d2"])
    for i in range(3):
        assert got[f"d{i}"].dense == unit(i) and got[f"d{i}"].sparse == {"sparse": SPARSE}


def test_only_rows_without_vectors_are_encoded():
    encoder = RecordingEncoder()
    index = index_with(encoder)
    docs = [
        VectorDocument(id="given", text="alpha beta", dense=unit(3), sparse={"sparse": SPARSE}),
        Document(id="plain", text="gamma delta"),
        VectorDocument(id="dense-only", text="epsilon", dense=unit(4)),  # its sparse vector is encoded
    ]
    report = index.upsert(docs)
    assert report.written == 3 and not report.failed
    assert encoder.document_calls == [["gamma delta", "epsilon"]]  # one call, the two rows that lack a vector
    got = stored(index, ["given", "plain", "dense-only"])
    expected = BagOfWordsEncoder().encode_documents(["gamma delta", "epsilon"])
    assert got["given"].dense == unit(3) and got["given"].sparse["sparse"] == SPARSE
    assert np.allclose(got["plain"].dense, expected.dense[0]) and got["plain"].sparse["sparse"] == expected.sparse[0]
    assert got["dense-only"].dense == unit(4) and got["dense-only"].sparse["sparse"] == expected.sparse[1]


def test_no_vectors_given_encodes_each_batch_once():
    encoder = RecordingEncoder()
    index = index_with(encoder, batch_size=2)
    report = index.upsert([Document(id=str(i), text=f"word{i}") for i in range(5)])
    assert report.written == 5
    assert encoder.document_calls == [["word0", "word1"], ["word2", "word3"], ["word4"]]


def test_encode_missing_false_stores_rows_without_the_vector():
    encoder = RecordingEncoder()
    index = index_with(encoder)
    report = index.upsert(
        [VectorDocument(id="v", text="sea", dense=unit(0)), Document(id="bare", text="sea")], encode_missing=False
    )
    assert report.written == 2 and encoder.document_calls == []
    got = stored(index, ["v", "bare"])
    assert got["v"].dense == unit(0) and got["bare"].dense is None and got["bare"].sparse == {}
    assert [h.id for h in index.search_by_vector(unit(0), k=5)] == ["v"]  # never a dense hit without one


@pytest.mark.parametrize(
    "doc, fragment",
    [
        (
            VectorDocument(id="short", text="x", dense=[1.0, 2.0, 3.0]),
            "dense has 3 values; collection 'v' has dense_dim 32",
        ),
        (
            VectorDocument(id="field", text="x", sparse={"splade": SPARSE}),
            "sparse['splade']: collection 'v' has sparse fields",
        ),
    ],
)
def test_a_vector_the_collection_cannot_store_fails_that_document_alone(doc, fragment):
    encoder = RecordingEncoder()
    index = index_with(encoder)
    report = index.upsert([doc, Document(id="ok", text="fine")])
    assert report.written == 1 and list(report.failed) == [doc.id] and report.balanced
    assert fragment in report.failed[doc.id] and doc.id in report.failed[doc.id]
    assert index.count() == 1 and encoder.document_calls == [["fine"]]


@pytest.mark.parametrize(
    "dense, fragment",
    [
        ([1.0, float("nan"), 0.0], "dense[1]=nan is not a finite number"),
        ([float("inf")], "dense[0]=inf is not a finite number"),
        ([], "must not be empty"),
        ("1,2,3", "must be a list of floats"),
    ],
)
def test_non_finite_or_malformed_dense_vectors_are_refused_with_the_value(dense, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        VectorDocument(id="bad", text="x", dense=dense)


def test_bad_sparse_vectors_are_refused_at_construction():
    with pytest.raises(ValidationError, match="values must be finite"):
        VectorDocument(id="bad", text="x", sparse={"sparse": {"indices": [1], "values": [float("nan")]}})
    with pytest.raises(ValidationError, match="indices must be unique"):
        VectorDocument(id="bad", text="x", sparse={"sparse": {"indices": [1, 1], "values": [1.0, 2.0]}})


def test_stored_documents_upsert_back_unchanged():
    index = index_with()
    index.upsert([Document(id="a", text="river sea"), VectorDocument(id="b", text="x", dense=unit(2))])
    before = stored(index, ["a", "b"])
    encoder = RecordingEncoder()
    copy = HybridIndex(
        index.connector,
        index.spec,
        [
            Retriever("dense", encoder, RetrieverKind.DENSE, "dense"),
            Retriever("sparse", encoder, RetrieverKind.SPARSE, "sparse"),
        ],
    )
    assert copy.upsert(before.values()).written == 2 and encoder.document_calls == []
    assert stored(index, ["a", "b"]) == before


def test_chunking_refuses_a_document_with_vectors():
    index = index_with()
    report = ingest(index, [VectorDocument(id="v", text="one two three four", dense=unit(1))], chunk_tokens=2)
    assert report.written == 0 and "cannot be split" in report.failed["v"]


def test_vector_only_retrievers_take_vectors_not_query_texts():
    spec = index_with().spec
    index = HybridIndex(
        InMemoryConnector(),
        spec,
        [
            Retriever("dense", None, RetrieverKind.DENSE, "dense"),
            Retriever("sparse", None, RetrieverKind.SPARSE, "sparse"),
        ],
    )
    report = index.upsert(
        [VectorDocument(id="v", text="x", dense=unit(1), sparse={"sparse": SPARSE}), Document(id="bare", text="y")]
    )
    assert report.written == 2
    assert [h.id for h in index.search_by_vector(unit(1), k=3)] == ["v"]
    assert [h.id for h in index.search_by_vector(SPARSE, k=3, retriever="sparse")] == ["v"]
    with pytest.raises(ConfigurationError, match="search_by_vector"):
        index.search("x", retrievers=["dense"])
    with pytest.raises(ConfigurationError, match="none takes query texts"):
        index.search("x")


def test_tenant_view_writes_given_vectors_with_the_tenant_stamped():
    encoder = RecordingEncoder()
    index = index_with(encoder, tenant_key="org")
    report = index.tenant("acme").upsert([VectorDocument(id="t", text="x", dense=unit(5)), Document(id="u", text="y")])
    assert report.written == 2
    got = stored(index, ["t", "u"])
    assert got["t"].dense == unit(5) and got["t"].metadata == {"org": "acme"} and got["u"].metadata == {"org": "acme"}
    assert encoder.document_calls == [["x", "y"]]  # "t" lacks a sparse vector, "u" both


def test_async_index_writes_given_vectors_and_encodes_the_rest():
    encoder = RecordingEncoder()

    async def main():
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()), "v", dense=encoder, sparse=encoder
        )
        report = await index.upsert(
            [
                VectorDocument(id="given", text="a", dense=unit(6), sparse={"sparse": SPARSE}),
                Document(id="plain", text="b"),
                VectorDocument(id="short", text="c", dense=[1.0]),
            ]
        )
        got = {d.id: d for d in await index.get(["given", "plain"], with_vectors=True)}
        bare = await index.upsert([Document(id="bare", text="d")], encode_missing=False)
        return report, got, bare, (await index.get(["bare"], with_vectors=True))[0]

    report, got, bare, stored_bare = asyncio.run(main())
    assert report.written == 2 and "dense has 1 values" in report.failed["short"]
    assert encoder.document_calls == [["b"]]
    assert got["given"].dense == unit(6) and got["given"].sparse == {"sparse": SPARSE}
    assert got["plain"].dense is not None
    assert bare.written == 1 and stored_bare.dense is None
