"""Public numeric arguments (k, ef, window, rrf_k, weights, batch sizes, ...): booleans and non-finite
numbers are refused everywhere with the same message; random inputs end in a result or in the
library's own ``InvalidInputError``, never a traceback, and never change what the store holds."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.facade.fakes import BagOfWordsEncoder, InMemoryConnector
from vecbridge import AsyncHybridIndex, HybridIndex, fusion
from vecbridge.connectors import ThreadedConnector
from vecbridge.schemas import Document, FusionParams, Hit, InvalidInputError, SearchRequest, VecbridgeError
from vecbridge.schemas.arguments import INTEGER_RULE, NUMBER_RULE

DOCS = [Document(id=f"d{i}", text=t) for i, t in enumerate(["alpha beta", "beta gamma", "gamma delta", "alpha"])]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def index():
    encoder = BagOfWordsEncoder()
    index = HybridIndex.create(InMemoryConnector(), "args", dense=encoder, sparse=encoder)
    index.upsert(DOCS)
    return index


@pytest.mark.parametrize("k", [True, False, 1.0, "3", math.inf, None])
def test_k_refused_the_same_way_by_search_and_search_by_vector(index, k):
    with pytest.raises(InvalidInputError, match="k=") as by_query:
        index.search("alpha", k=k)
    with pytest.raises(InvalidInputError, match="k=") as by_vector:
        index.search_by_vector([0.0] * 31 + [1.0], k=k)
    if k is not None:
        assert INTEGER_RULE in str(by_query.value) and INTEGER_RULE in str(by_vector.value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, True, False, np.float64("inf")])
@pytest.mark.parametrize("argument", ["rrf_k", "weights", "uncovered_factor"])
def test_non_finite_and_boolean_numbers_are_refused_with_one_message(index, argument, value):
    kwargs = {"weights": {"dense": value}} if argument == "weights" else {argument: value}
    with pytest.raises(InvalidInputError) as err:
        index.search("alpha", **kwargs)
    assert NUMBER_RULE in str(err.value) and argument in str(err.value)


@pytest.mark.parametrize("value", [math.inf, math.nan, True])
def test_fusion_functions_refuse_non_finite_and_boolean_numbers(value):
    lists = {"a": [Hit(id="x", score=1.0)], "b": [Hit(id="y", score=0.5)]}
    with pytest.raises(InvalidInputError, match="finite number"):
        fusion.rrf(lists, 2, k=value)
    with pytest.raises(InvalidInputError, match="finite number"):
        fusion.rrf(lists, 2, weights={"a": value})
    with pytest.raises(InvalidInputError, match="finite number"):
        fusion.linear(lists, 2, weights={"b": value})


@pytest.mark.parametrize("field,value", [("k", True), ("ef", True), ("rerank_top_n", True), ("k", 2.0)])
def test_search_request_integer_fields_refuse_bools_and_floats(field, value):
    with pytest.raises(ValueError, match="integer"):
        SearchRequest(query="q", **{field: value})


@pytest.mark.parametrize("field,value", [("window", True), ("rrf_k", math.inf), ("weights", {"dense": math.nan})])
def test_fusion_params_refuse_bools_and_non_finite(field, value):
    with pytest.raises(ValueError):
        FusionParams(**{field: value})


def test_batch_size_of_iterate_refuses_bools(index):
    with pytest.raises(InvalidInputError, match="batch_size=True"):
        list(index.iterate(batch_size=True))


def test_async_index_refuses_the_same_numbers():
    async def main():
        encoder = BagOfWordsEncoder()
        index = await AsyncHybridIndex.create(
            ThreadedConnector(InMemoryConnector()), "args", dense=encoder, sparse=encoder
        )
        await index.upsert(DOCS)
        for kwargs in ({"k": True}, {"rrf_k": math.inf}, {"weights": {"sparse": math.inf}}):
            with pytest.raises(InvalidInputError):
                await index.search("alpha", **kwargs)
        return len(await index.search("alpha", k=2))

    assert asyncio.run(main()) == 2


# ---- properties ---------------------------------------------------------------------------------
ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.binary(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
NUMBERS = st.one_of(st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True), ANYTHING)


@PROPERTY
@given(k=NUMBERS, rrf_k=NUMBERS, weight=NUMBERS, window=NUMBERS, mode=st.sampled_from(["dense", "sparse", "hybrid"]))
def test_random_search_arguments_give_hits_or_a_clear_error(index, k, rrf_k, weight, window, mode):
    try:
        hits = index.search("alpha beta", k=k, mode=mode, rrf_k=rrf_k, weights={"dense": weight}, window=window)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        return
    assert all(math.isfinite(h.score) for h in hits)
    assert len(hits) <= k and not isinstance(k, bool)
    assert not isinstance(rrf_k, bool) and math.isfinite(rrf_k) and rrf_k > 0


@PROPERTY
@given(ids=ANYTHING | st.lists(st.text(max_size=4) | st.none() | st.integers(), max_size=4), batch_size=NUMBERS)
def test_random_ids_and_batch_sizes_never_touch_an_unnamed_document(index, ids, batch_size):
    before = index.count()
    try:
        got = index.get(ids)
    except InvalidInputError:
        got = None
    if got is not None:
        assert {d.id for d in got} <= set(ids)
    try:
        deleted = index.delete(ids=[i for i in ids if i == "not-there"] if isinstance(ids, list) else ids)
    except (InvalidInputError, VecbridgeError):
        deleted = 0
    assert deleted == 0 and index.count() == before
    try:
        assert sum(1 for _ in index.iterate(batch_size=batch_size)) == before
    except InvalidInputError:
        assert isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": True},
        {"retry_attempts": True},
        {"retry_max_wait": math.inf},
        {"timeout": math.nan},
        {"batch_size": 2.5},
    ],
)
def test_milvus_connector_settings_refuse_bools_and_non_finite(tmp_path, kwargs):
    from vecbridge.connectors.milvus import MilvusConnector

    with pytest.raises(InvalidInputError, match=next(iter(kwargs))):
        MilvusConnector(str(tmp_path / "x.db"), **kwargs)


@pytest.mark.parametrize("kwargs", [{"chunk_size": True}, {"request_timeout": math.inf}, {"max_backoff": math.nan}])
def test_elasticsearch_config_refuses_bools_and_non_finite(kwargs):
    from vecbridge.connectors.elasticsearch import ElasticsearchConfig

    with pytest.raises(InvalidInputError, match=next(iter(kwargs))):
        ElasticsearchConfig(**kwargs)


@pytest.mark.parametrize("field", ["retry_attempts", "batch_size", "max_length", "rerank_top_n", "ingest_batch_size"])
@pytest.mark.parametrize("value", [True, False])
def test_settings_refuse_booleans_for_counts(field, value):
    from vecbridge.schemas import Settings

    with pytest.raises(InvalidInputError, match=INTEGER_RULE.replace("(", r"\(").replace(")", r"\)")):
        Settings(**{field: value})
    assert getattr(Settings(**{field: 3}), field) == 3  # a real count still passes


def test_settings_refuse_non_finite_retry_wait():
    from vecbridge.schemas import Settings

    for value in (math.inf, math.nan):
        with pytest.raises(InvalidInputError, match="finite"):
            Settings(retry_max_wait=value)


def test_weights_that_switch_every_retriever_off_are_bad_input(index):
    with pytest.raises(InvalidInputError, match=r"weights: every retriever selected \(\['dense'\]\) has weight 0"):
        index.search("alpha beta", mode="dense", weights={"dense": 0})
    with pytest.raises(InvalidInputError, match="has weight 0"):
        index.search("alpha beta", weights={"dense": 0, "sparse": 0})
