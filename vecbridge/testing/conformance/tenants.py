"""Conformance: multi-tenancy through ``index.tenant(name)`` on every backend — one tenant never
sees, counts, iterates, deletes or overwrites another's documents."""

from __future__ import annotations

import pytest

from vecbridge import HybridIndex
from vecbridge.schemas import CollectionSpec, Document, InvalidInputError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.encoders import BagOfWordsEncoder

TEXTS = ["red apple pie", "green apple tart", "blue sky", "red car", "apple tree", "sky blue apple"]


def _docs(tenant: str) -> list[Document]:
    return [Document(id=f"{tenant}-{i}", text=t, metadata={"year": 2000 + i}) for i, t in enumerate(TEXTS)]


class TenantTests(ConformanceBase):
    """Multi-tenancy through ``HybridIndex.tenant(name)``."""

    @pytest.fixture
    def index(self, connector, collection_name):
        encoder = BagOfWordsEncoder()
        ix = HybridIndex.create(
            connector, collection_name, dense=encoder, sparse=encoder, filterable={"year": "int"}, tenant_key="org"
        )
        assert ix.spec.tenant_key == "org" and ix.spec.filterable["org"].value == "string"
        for tenant in ("acme", "globex"):
            report = ix.tenant(tenant).upsert(_docs(tenant))
            assert not report.failed
        return ix

    def test_one_tenant_never_sees_another(self, index):
        acme, globex = index.tenant("acme"), index.tenant("globex")
        assert index.count() == 12 and acme.count() == 6 and globex.count() == 6
        for mode in ("dense", "sparse", "hybrid"):
            hits = acme.search("apple sky red", k=20, mode=mode)
            assert hits and all(h.id.startswith("acme-") and h.metadata["org"] == "acme" for h in hits)
        hits = acme.search("apple", k=20, filter={"key": "year", "op": ">=", "value": 2003})
        assert {h.id for h in hits} <= {"acme-3", "acme-4", "acme-5"} and hits
        vector = BagOfWordsEncoder().encode_queries(["red apple"]).dense[0].tolist()
        assert all(h.id.startswith("globex-") for h in globex.search_by_vector(vector, k=20))
        assert acme.get(["globex-0", "acme-1"]) == [index.get(["acme-1"])[0]]
        assert sorted(d.id for d in acme.iterate(batch_size=4)) == [f"acme-{i}" for i in range(6)]
        assert acme.count({"key": "year", "op": "<", "value": 2002}) == 2

    def test_one_tenant_cannot_delete_or_overwrite_another(self, index):
        acme, globex = index.tenant("acme"), index.tenant("globex")
        assert acme.delete(ids=["globex-0", "globex-1"]) == 0
        assert acme.delete(ids=["globex-2", "acme-0"]) == 1
        assert acme.delete(filter={"key": "year", "op": "==", "value": 2001}) == 1  # acme-1 only
        assert globex.count() == 6
        with pytest.raises(InvalidInputError, match="another tenant"):
            acme.upsert([Document(id="globex-3", text="stolen", metadata={"year": 1})])
        with pytest.raises(InvalidInputError, match="not this view's tenant"):
            acme.upsert([Document(id="x", text="t", metadata={"org": "globex", "year": 1})])
        assert index.get(["globex-3"])[0].text == "red car"
        assert acme.delete_all() == 4
        assert acme.count() == 0 and globex.count() == 6 and index.count() == 6

    def test_tenant_needs_a_tenant_key(self, connector, collection_name):
        encoder = BagOfWordsEncoder()
        ix = HybridIndex.create(connector, collection_name, dense=encoder, filterable={"year": "int"})
        with pytest.raises(InvalidInputError, match="no tenant_key"):
            ix.tenant("acme")
        with pytest.raises(ValueError, match="tenant_key 'year' must be a filterable key of type string"):
            CollectionSpec(name="x", dense_dim=4, filterable={"year": "int"}, tenant_key="year")
