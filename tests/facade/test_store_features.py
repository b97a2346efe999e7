"""Facade store features (issue 12) on the in-memory connector: metric chosen from the encoder,
relevance only where the metric bounds it, only vecbridge errors (ValueError subclasses) escape.
The same features on every real backend: vecbridge/testing/conformance/index_store.py."""

from __future__ import annotations

import asyncio

import pydantic
import pytest

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import HybridIndex
from vecbridge.async_index import AsyncHybridIndex
from vecbridge.connectors import ThreadedConnector
from vecbridge.index import default_metric, dense_relevance
from vecbridge.schemas import ConfigurationError, Document, InvalidInputError, Metric, Settings, VecbridgeError

DOCS = [
    Document(id=f"d{i}", text=t, metadata={"year": 2000 + i})
    for i, t in enumerate(["red apple pie", "green apple", "blue sky", "red car", "apple tree red"])
]


class Unnormalized(BagOfWordsEncoder):
    normalize = False


class Undeclared(BagOfWordsEncoder):
    normalize = None  # type: ignore[assignment]  # an encoder that does not say


def _index(encoder=None, **kw):
    encoder = encoder or BagOfWordsEncoder()
    index = HybridIndex.create(
        InMemoryConnector(), "t", dense=encoder, sparse=encoder, filterable={"year": "int"}, **kw
    )
    index.upsert(DOCS)
    return index


def test_metric_follows_the_encoder_unless_given():
    assert _index().spec.metric is Metric.IP
    assert _index(Unnormalized()).spec.metric is Metric.COSINE
    assert _index(Undeclared()).spec.metric is Metric.COSINE
    assert _index(Unnormalized(), metric="IP").spec.metric is Metric.IP
    assert _index(metric=Metric.L2).spec.metric is Metric.L2
    assert default_metric(None, None) is Metric.IP  # no dense field: the metric is unused


def test_real_encoders_declare_normalization():
    from vecbridge.encoders.bgem3 import BGEM3Base
    from vecbridge.encoders.dense import DenseEncoder

    assert BGEM3Base.normalize is True
    assert "normalize" in DenseEncoder.__init__.__code__.co_varnames


def test_relevance_only_on_single_dense_hits():
    index = _index()
    dense = index.search("red apple", k=3, mode="dense")
    assert dense and all(h.relevance is not None and 0 <= h.relevance <= 1 for h in dense)
    assert dense[0].relevance == pytest.approx((1 + dense[0].score) / 2)
    assert all(h.relevance is None for h in index.search("red apple", k=3, mode="sparse"))
    assert all(h.relevance is None for h in index.search("red apple", k=3, mode="hybrid"))
    assert all(h.relevance is None for h in _index(Unnormalized(), metric="IP").search("red apple", k=3, mode="dense"))


def test_dense_relevance_formulas():
    assert dense_relevance(Metric.COSINE, 1.0, False) == 1.0
    assert dense_relevance(Metric.COSINE, -1.0, False) == 0.0
    assert dense_relevance(Metric.IP, 1.0000002, True) == 1.0  # float error clipped
    assert dense_relevance(Metric.IP, 0.5, False) is None
    assert dense_relevance(Metric.L2, 4.0, False) == pytest.approx(1 / 3)  # squared distance 4: d = 2


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda ix: ix.search("x", k=0), "k=0"),
        (lambda ix: ix.search("x", rrf_k=-1), "rrf_k=-1"),
        (lambda ix: ix.search("x", window=0), "window=0"),
        (lambda ix: ix.search("x", method="nope"), "method='nope'"),
        (lambda ix: ix.search("x", mode="nope"), "mode='nope'"),
        (lambda ix: ix.search("x", foo=1), "foo"),
        (lambda ix: ix.search(""), "query=''"),
        (lambda ix: ix.search("x", rerank_top_n=0), "rerank_top_n=0"),
        (lambda ix: ix.search_by_vector({1: -1.0}, retriever="sparse"), "values"),
        (lambda ix: ix.search_by_vector([0.1] * 3), "expects dim 32, got 3"),
        (lambda ix: ix.get(7), "ids=7"),
        (lambda ix: ix.iterate(batch_size="10"), "batch_size='10'"),
        (lambda ix: HybridIndex.create(InMemoryConnector(), "bad name", dense=BagOfWordsEncoder()), "name='bad name'"),
        (
            lambda ix: HybridIndex.create(InMemoryConnector(), "m", dense=BagOfWordsEncoder(), metric="dot"),
            "metric='dot'",
        ),
        (lambda ix: Settings(batch_size="abc"), "VECBRIDGE_BATCH_SIZE='abc'"),
    ],
)
def test_user_input_errors_are_one_line_vecbridge_value_errors(call, field):
    index = _index()
    with pytest.raises(InvalidInputError) as info:
        call(index)
    err = info.value
    assert isinstance(err, VecbridgeError) and isinstance(err, ValueError) and isinstance(err, ConfigurationError)
    assert not isinstance(err, pydantic.ValidationError) and err.__cause__ is None
    assert field in str(err) and "\n" not in str(err)


def test_async_index_has_the_same_store_features():
    encoder = BagOfWordsEncoder()

    async def main():
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()), "a", dense=encoder, sparse=encoder, filterable={"year": "int"}
        )
        assert index.spec.metric is Metric.IP
        await index.upsert(DOCS)
        vector = encoder.encode_queries(["red apple"]).dense[0].tolist()
        hits = await index.search_by_vector(vector, k=2)
        assert hits == (await index.search("red apple", k=2, mode="dense"))
        got = await index.get(["d1"], with_vectors=True)
        assert got[0].dense == pytest.approx(encoder.encode_documents([DOCS[1].text]).dense[0].tolist())
        ids = [d.id async for d in index.iterate(filter={"key": "year", "op": ">=", "value": 2002}, batch_size=2)]
        assert sorted(ids) == ["d2", "d3", "d4"]
        with pytest.raises(InvalidInputError, match="batch_size=0"):
            index.iterate(batch_size=0)
        assert await index.delete_all() == 5 and await index.count() == 0

    asyncio.run(main())


def test_async_tenant_view_scopes_every_call():
    encoder = BagOfWordsEncoder()

    async def main():
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()),
            "t",
            dense=encoder,
            sparse=encoder,
            filterable={"year": "int"},
            tenant_key="org",
        )
        acme, globex = index.tenant("acme"), index.tenant("globex")
        await acme.upsert(DOCS)
        await globex.upsert([d.model_copy(update={"id": "g" + d.id}) for d in DOCS])
        assert await index.count() == 10 and await acme.count() == 5
        assert all(h.id.startswith("g") for h in await globex.search("red apple", k=10))
        assert await acme.get(["gd1", "d1"]) == await index.get(["d1"])
        assert sorted([d.id async for d in globex.iterate(batch_size=2)]) == sorted("g" + d.id for d in DOCS)
        assert await acme.delete(ids=["gd0"]) == 0
        with pytest.raises(InvalidInputError, match="another tenant"):
            await acme.upsert([Document(id="gd2", text="x", metadata={"year": 1})])
        assert await acme.delete_all() == 5 and await globex.count() == 5

    asyncio.run(main())


def test_milvus_tenant_key_is_the_partition_key_on_a_server_only():
    from vecbridge.connectors.milvus.schema import build_schema, spec_from_actual, spec_from_description
    from vecbridge.schemas import CollectionSpec

    spec = CollectionSpec(name="t", dense_dim=4, filterable={"org": "string", "year": "int"}, tenant_key="org")
    fields = {f.name: f for f in build_schema(spec, partition_key=True).fields}
    assert fields["org"].is_partition_key and not fields["org"].nullable and not fields["year"].is_partition_key
    assert not any(f.is_partition_key for f in build_schema(spec, partition_key=False).fields)
    description = {"fields": [f.to_dict() for f in build_schema(spec, partition_key=True).fields]}
    assert spec_from_actual(spec_from_description("t", description, None)).tenant_key == "org"
