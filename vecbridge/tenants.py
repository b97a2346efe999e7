"""Tenant-scoped views of an index: ``index.tenant("acme")``.

The collection's ``spec.tenant_key`` (a filterable string key) names each document's tenant. A view
adds ``tenant_key == name`` to every filter it sends, so searches, counts, iteration and deletes see
only that tenant's documents; ``get`` drops documents of other tenants; ``upsert`` stamps the key on
each document and refuses ids that another tenant already holds (ids are one key space per
collection, so writing one would replace that tenant's document).

Storage: Milvus server — the key is the collection's partition key (documents of one tenant are
searched in their own partitions); Milvus Lite — a plain scalar field (Lite 2.5.1 rejects filters on a
partition key); Elasticsearch — the keyword field (no custom routing: one shard per tenant is not set up).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, Optional

from vecbridge.ingest.records import row_id
from vecbridge.schemas import And, Document, Filter, Hit, InvalidInputError, parse_filter
from vecbridge.schemas.errors import short_repr
from vecbridge.schemas.filters import eq


def check_tenant(spec: Any, tenant: Any) -> str:
    if spec.tenant_key is None:
        raise InvalidInputError(
            f"collection {spec.name!r} has no tenant_key; create it with HybridIndex.create(..., tenant_key=...)"
        )
    if not isinstance(tenant, str) or not tenant:
        raise InvalidInputError(f"tenant={short_repr(tenant)}: must be a non-empty string")
    return tenant


class _Scope:
    """The tenant rules, shared by the sync and async views."""

    def __init__(self, index: Any, tenant: str) -> None:
        self.index = index
        self.tenant = check_tenant(index.spec, tenant)
        self.key: str = index.spec.tenant_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index.spec.name!r}, tenant={self.tenant!r})"

    def _scoped(self, filter: Optional[Filter | dict]) -> Filter:
        own = eq(self.key, self.tenant)
        return own if filter is None else And(all=[own, parse_filter(filter)])

    def _own(self, docs: Sequence[Document]) -> list[Document]:
        return [d for d in docs if d.metadata.get(self.key) == self.tenant]

    def _stamped(self, documents: Iterable[Any]) -> list[Any]:
        """Each document with ``metadata[tenant_key] = tenant``; another tenant's value is refused."""
        out = []
        for doc in documents:
            value: Any
            doc_id: Any
            if isinstance(doc, Document):
                value = doc.metadata.get(self.key, self.tenant)
                stamped: Any = doc.model_copy(update={"metadata": {**doc.metadata, self.key: self.tenant}})
                doc_id = doc.id
            elif isinstance(doc, dict):
                metadata = dict(doc.get("metadata") or {})
                value = metadata.get(self.key, self.tenant)
                stamped = {**doc, "metadata": {**metadata, self.key: self.tenant}}
                doc_id = row_id(doc)
            else:
                raise InvalidInputError(f"documents: expected Document or dict, got {type(doc).__name__}")
            if value != self.tenant:
                raise InvalidInputError(
                    f"document {short_repr(doc_id)}: metadata[{self.key!r}]={short_repr(value)} is not this view's "
                    f"tenant {self.tenant!r}"
                )
            out.append(stamped)
        return out

    def _refuse_foreign(self, existing: Sequence[Document]) -> None:
        foreign = [d.id for d in existing if d.metadata.get(self.key) != self.tenant]
        if foreign:
            raise InvalidInputError(
                f"ids {foreign[:5]} belong to another tenant of collection {self.index.spec.name!r}; "
                "ids are unique per collection"
            )

    def _delete_args(self, owned: Optional[list[str]], filter: Optional[Filter | dict]) -> Optional[dict[str, Any]]:
        """``index.delete`` arguments for this tenant's ids ``owned`` (None: none given) and/or ``filter``;
        None: nothing to delete."""
        if filter is not None:
            return {"ids": owned or None, "filter": self._scoped(filter)}
        if owned is None:
            return {"ids": None, "filter": None}  # the index's own "needs ids and/or a filter" error
        return {"ids": owned, "filter": None} if owned else None

    @staticmethod
    def _ids_of(documents: Sequence[Any]) -> list[str]:
        """The ids the rows are written under (``id``, ``_id``, an integer id as text); a row without
        one is left to ``upsert``, which dead-letters it."""
        return [i for i in map(row_id, documents) if i is not None]


class TenantView(_Scope):
    """``HybridIndex`` calls scoped to one tenant (see the module docstring)."""

    def search(
        self, query: str, k: int = 10, mode: Any = "hybrid", filter: Optional[Filter | dict] = None, **options: Any
    ) -> list[Hit]:
        return self.index.search(query, k, mode, self._scoped(filter), **options)

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: Any = "hybrid",
        filter: Optional[Filter | dict] = None,
        **options: Any,
    ) -> list[list[Hit]]:
        return self.index.search_batch(queries, k, mode, self._scoped(filter), **options)

    def search_by_vector(
        self,
        vector: Any,
        k: int = 10,
        filter: Optional[Filter | dict] = None,
        retriever: str = "dense",
        ef: Optional[int] = None,
    ) -> list[Hit]:
        return self.index.search_by_vector(vector, k, self._scoped(filter), retriever, ef)

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        return self._own(self.index.get(ids, with_vectors=with_vectors))

    def count(self, filter: Optional[Filter | dict] = None) -> int:
        return self.index.count(self._scoped(filter))

    def iterate(
        self, filter: Optional[Filter | dict] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[Document]:
        return self.index.iterate(self._scoped(filter), batch_size, with_vectors)

    def delete(self, ids: Optional[Sequence[str]] = None, filter: Optional[Filter | dict] = None) -> int:
        """Delete this tenant's documents among ``ids`` and/or matching ``filter``."""
        owned = None if ids is None else [d.id for d in self.get(ids)]
        args = self._delete_args(owned, filter)
        return 0 if args is None else self.index.delete(**args)

    def delete_all(self) -> int:
        """Delete every document of this tenant (others' stay)."""
        return self.index.delete(filter=self._scoped(None))

    def upsert(self, documents: Iterable[Any], **options: Any) -> Any:
        docs = self._stamped(documents)
        self._refuse_foreign(self.index.get(self._ids_of(docs)))
        return self.index.upsert(docs, **options)


class AsyncTenantView(_Scope):
    """``AsyncHybridIndex`` calls scoped to one tenant (see the module docstring)."""

    async def search(
        self, query: str, k: int = 10, mode: Any = "hybrid", filter: Optional[Filter | dict] = None, **options: Any
    ) -> list[Hit]:
        return await self.index.search(query, k, mode, self._scoped(filter), **options)

    async def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: Any = "hybrid",
        filter: Optional[Filter | dict] = None,
        **options: Any,
    ) -> list[list[Hit]]:
        return await self.index.search_batch(queries, k, mode, self._scoped(filter), **options)

    async def search_by_vector(
        self,
        vector: Any,
        k: int = 10,
        filter: Optional[Filter | dict] = None,
        retriever: str = "dense",
        ef: Optional[int] = None,
    ) -> list[Hit]:
        return await self.index.search_by_vector(vector, k, self._scoped(filter), retriever, ef)

    async def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        return self._own(await self.index.get(ids, with_vectors=with_vectors))

    async def count(self, filter: Optional[Filter | dict] = None) -> int:
        return await self.index.count(self._scoped(filter))

    def iterate(
        self, filter: Optional[Filter | dict] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> AsyncIterator[Document]:
        return self.index.iterate(self._scoped(filter), batch_size, with_vectors)

    async def delete(self, ids: Optional[Sequence[str]] = None, filter: Optional[Filter | dict] = None) -> int:
        owned = None if ids is None else [d.id for d in await self.get(ids)]
        args = self._delete_args(owned, filter)
        return 0 if args is None else await self.index.delete(**args)

    async def delete_all(self) -> int:
        return await self.index.delete(filter=self._scoped(None))

    async def upsert(self, documents: Iterable[Any], **options: Any) -> Any:
        docs = self._stamped(documents)
        self._refuse_foreign(await self.index.get(self._ids_of(docs)))
        return await self.index.upsert(docs, **options)
