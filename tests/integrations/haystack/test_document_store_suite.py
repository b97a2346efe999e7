"""Haystack's own ``DocumentStoreBaseTests`` (+ delete-all, delete/update/count by filter) on every
backend, with the suite's metadata keys declared filterable (conftest.SUITE_FILTERABLE).

``assert_documents_are_equal`` is overridden only for order (the protocol does not fix one) and for
float32 storage of embeddings, as Haystack's own backends do."""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("haystack")

from haystack.dataclasses import Document  # noqa: E402
from haystack.document_stores.types import DuplicatePolicy  # noqa: E402
from haystack.testing.document_store import (  # noqa: E402
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    DeleteAllTest,
    DeleteByFilterTest,
    DocumentStoreBaseTests,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldUniqueValuesTest,
    UpdateByFilterTest,
)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6) for x, y in zip(a, b, strict=True))


class TestVecbridgeDocumentStore(
    DocumentStoreBaseTests,
    DeleteAllTest,
    DeleteByFilterTest,
    UpdateByFilterTest,
    CountDocumentsByFilterTest,
    CountUniqueMetadataByFilterTest,
    GetMetadataFieldsInfoTest,
    GetMetadataFieldMinMaxTest,
    GetMetadataFieldUniqueValuesTest,
):
    @pytest.fixture
    def document_store(self, make_store: Any) -> Any:
        return make_store()

    @staticmethod
    def assert_documents_are_equal(received: list[Document], expected: list[Document]) -> None:
        """Same documents in any order; embeddings equal within float32 precision."""
        assert len(received) == len(expected)
        received = sorted(received, key=lambda d: d.id)
        expected = sorted(expected, key=lambda d: d.id)
        for got, want in zip(received, expected, strict=False):
            assert _close(got.embedding, want.embedding), got.id
            if want.sparse_embedding is None:
                assert got.sparse_embedding is None
            else:
                assert got.sparse_embedding.indices == want.sparse_embedding.indices
                assert _close(got.sparse_embedding.values, want.sparse_embedding.values)
            strip = {"embedding": None, "sparse_embedding": None}
            assert got.to_dict(flatten=False) | strip == want.to_dict(flatten=False) | strip

    def test_write_documents(self, document_store: Any) -> None:
        """The default policy (NONE) is FAIL: an existing id raises, nothing else is written."""
        from haystack.document_stores.errors import DuplicateDocumentError

        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc, Document(content="other")], policy=DuplicatePolicy.NONE)
        assert document_store.count_documents() == 1
