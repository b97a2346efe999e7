"""Conformance: collection state kept in the store (``read_state`` / ``write_state``)."""

from __future__ import annotations

import random
import string

import pytest

from vecbridge.connectors.state_store import encode_state
from vecbridge.schemas import ConfigurationError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import spec


def big_state(seed: int, terms: int = 250_000) -> dict:
    """BM25-like statistics that compress poorly: a few megabytes once encoded."""
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + "数据库向量检索"
    vocab = ["".join(rng.choices(alphabet, k=rng.randint(3, 12))) for _ in range(terms)]
    return {"models": {"sparse_model": "bm25"}, "bm25": {"vocab": vocab, "df": [rng.randint(1, 10**6) for _ in vocab]}}


class StateTests(ConformanceBase):
    """Collection state kept in the store (``read_state`` / ``write_state``)."""

    def test_missing_state_is_none(self, connector, collection_name):
        assert connector.read_state(collection_name) is None

    def test_multi_megabyte_state_round_trips_and_survives_reopen(self, connector_factory, collection_name):
        state = big_state(1)
        assert len(encode_state(collection_name, state)) > 2_500_000  # several parts on every backend
        connector = connector_factory()
        connector.ensure_collection(spec(collection_name))
        connector.write_state(collection_name, state)
        assert connector.read_state(collection_name) == state
        connector.close()
        assert connector_factory().read_state(collection_name) == state

    def test_overwrite_replaces_and_removes_the_old_version(self, backend, connector, collection_name):
        connector.ensure_collection(spec(collection_name))
        connector.write_state(collection_name, big_state(2, terms=100_000))
        connector.write_state(collection_name, {"models": {"dense_model": "m"}, "n": 1})
        assert connector.read_state(collection_name) == {"models": {"dense_model": "m"}, "n": 1}
        if backend.state_records is None:
            pytest.skip(f"{backend.name}: no state_records hook to inspect what the write left behind")
        records = backend.state_records(connector)
        pointers = records.pointers(collection_name)
        assert len(pointers) == 1  # the first version's pointer and parts were deleted
        version = pointers[0].version
        keys = [f"{collection_name}/{p.version}/0" for p in pointers] + [f"{collection_name}/x/0"]
        old = records.get(keys)
        assert set(old) == {f"{collection_name}/{version}/0"}

    def test_drop_collection_drops_its_state_only(self, connector, collection_name):
        other = collection_name + "_other"
        connector.ensure_collection(spec(collection_name))
        connector.write_state(collection_name, {"a": 1})
        connector.write_state(other, {"b": 2})
        try:
            connector.drop_collection(collection_name)
            assert connector.read_state(collection_name) is None
            assert connector.read_state(other) == {"b": 2}
        finally:
            connector.drop_collection(other)
        assert connector.read_state(other) is None

    def test_bad_state_and_reserved_names_are_refused(self, backend, connector, collection_name):
        with pytest.raises(ConfigurationError, match=collection_name):
            connector.write_state(collection_name, {"x": object()})
        with pytest.raises(ConfigurationError, match="must be a dict"):
            connector.write_state(collection_name, ["not", "a", "dict"])
        if backend.reserved_state_name is not None:
            with pytest.raises(ConfigurationError, match="reserved"):
                connector.write_state(backend.reserved_state_name, {"x": 1})
        assert connector.read_state(collection_name) is None
