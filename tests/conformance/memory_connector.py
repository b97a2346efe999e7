"""A connector written outside vecbridge, the way a third party would write one: an in-memory store
with exact (brute-force) search, built only on vecbridge's public models, errors, filter evaluator
and state-record helpers. ``test_third_party.py`` runs the shipped conformance suite on it.

Connectors opened on the same ``path`` share one store (so closing and reopening keeps the data,
like a file); nothing is written to disk. No full-text index and no native hybrid search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from vecbridge.connectors import state_store
from vecbridge.connectors.state_store import StateRecord
from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionNotFoundError,
    CollectionSpec,
    ConfigurationError,
    Document,
    Filter,
    Hit,
    IndexBatch,
    Metric,
    SparseVector,
    StoredDocument,
    UnsupportedOperationError,
    WriteError,
    matches,
)
from vecbridge.schemas.collection import fits_scalar_type

RESERVED = "memory_state"
"""The name under which the state records live: refused as a collection whose state is kept."""
MAX_BATCH = 16384
VERIFIED_FIELDS = ("dense_dim", "metric", "sparse_fields", "filterable", "text_analyzer", "tenant_key")


@dataclass
class Row:
    document: Document
    dense: Optional[np.ndarray]
    sparse: dict[str, SparseVector]


@dataclass
class MemoryRecords:
    """``vecbridge.connectors.state_store.StateRecords`` over a dict."""

    records: dict[str, StateRecord] = field(default_factory=dict)

    def insert(self, records: Sequence[StateRecord]) -> None:
        self.records.update({r.key: r for r in records})

    def pointers(self, collection: str) -> list[StateRecord]:
        return [r for r in self.records.values() if r.collection == collection and r.part == state_store.POINTER]

    def get(self, keys: Sequence[str]) -> dict[str, StateRecord]:
        return {k: self.records[k] for k in keys if k in self.records}

    def delete_versions(self, collection: str, versions: Sequence[str]) -> None:
        doomed = set(versions)
        self.records = {
            k: r for k, r in self.records.items() if not (r.collection == collection and r.version in doomed)
        }

    def delete_collection(self, collection: str) -> None:
        self.records = {k: r for k, r in self.records.items() if r.collection != collection}


@dataclass
class MemoryStore:
    specs: dict[str, CollectionSpec] = field(default_factory=dict)
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    records: MemoryRecords = field(default_factory=MemoryRecords)


_STORES: dict[str, MemoryStore] = {}


def _bad_metadata(document: Document, spec: CollectionSpec) -> Optional[str]:
    """Why the document cannot be stored (a filterable key of the wrong type), or None."""
    for key, kind in spec.filterable.items():
        value = document.metadata.get(key)
        if value is not None and not fits_scalar_type(value, kind):
            return f"metadata[{key!r}]={value!r} is not of the declared type {kind.value!r}"
    return None


def _dense_scores(metric: Metric, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """IP, cosine, or the squared L2 distance (smaller is better), in float64."""
    m, q = matrix.astype(np.float64), np.asarray(query, dtype=np.float64)
    if metric is Metric.IP:
        return m @ q
    if metric is Metric.COSINE:
        return (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    return ((m - q) ** 2).sum(axis=1)


class MemoryConnector:
    """The ``vecbridge.connectors.Connector`` protocol over a ``MemoryStore``."""

    SEARCH_WITHOUT_CONTENT = True

    def __init__(self, path: str, batch_size: int = 1000) -> None:
        self.path = str(path)
        self.batch_size = batch_size  # accepted for symmetry with real stores; writes are not chunked

    @property
    def store(self) -> MemoryStore:
        return _STORES.setdefault(self.path, MemoryStore())

    # ---- collections ------------------------------------------------------------------------
    def ensure_collection(self, spec: CollectionSpec) -> None:
        if spec.text_analyzer is not None:
            raise ConfigurationError(f"text_analyzer={spec.text_analyzer!r}: MemoryConnector has no full-text index")
        old = self.store.specs.get(spec.name)
        if old is None:
            self.store.specs[spec.name] = spec
            self.store.rows[spec.name] = {}
            return
        for name in VERIFIED_FIELDS:
            if getattr(old, name) != getattr(spec, name):
                raise CollectionMismatchError(
                    f"collection {spec.name!r} exists with {name}={getattr(old, name)!r}, "
                    f"the spec says {getattr(spec, name)!r}"
                )

    def has_collection(self, name: str) -> bool:
        return name in self.store.specs

    def drop_collection(self, name: str) -> None:
        self.store.specs.pop(name, None)
        self.store.rows.pop(name, None)
        state_store.drop_state(self.store.records, name)

    def _spec_rows(self, collection: str) -> tuple[CollectionSpec, dict[str, Row]]:
        if collection not in self.store.specs:
            raise CollectionNotFoundError(f"collection {collection!r} does not exist in memory store {self.path!r}")
        return self.store.specs[collection], self.store.rows[collection]

    # ---- state --------------------------------------------------------------------------------
    def read_state(self, collection: str) -> Optional[dict[str, Any]]:
        state_store.check_collection_name(collection, RESERVED)
        return state_store.read_state(self.store.records, collection)

    def write_state(self, collection: str, state: dict[str, Any]) -> None:
        state_store.check_collection_name(collection, RESERVED)
        state_store.write_state(self.store.records, collection, state, part_chars=1 << 20)

    # ---- writes ---------------------------------------------------------------------------------
    def upsert(self, collection: str, batch: IndexBatch) -> int:
        spec, rows = self._spec_rows(collection)
        failed: dict[str, str] = {}
        for i, document in enumerate(batch.documents):
            reason = _bad_metadata(document, spec)
            if reason is not None:
                failed[document.id] = reason
                continue
            dense = None
            if batch.dense is not None and batch.has_dense(i):
                dense = np.array(batch.dense[i], dtype=np.float32)
            rows[document.id] = Row(
                document.model_copy(deep=True), dense, {name: vectors[i] for name, vectors in batch.sparse.items()}
            )
        written = len(batch.documents) - len(failed)
        if failed:
            raise WriteError(
                f"{len(failed)} of {len(batch.documents)} documents not written to {collection!r}",
                failed,
                written=written,
            )
        return written

    def delete(self, collection: str, ids: Optional[Sequence[str]] = None, filter: Optional[Filter] = None) -> int:
        spec, rows = self._spec_rows(collection)
        wanted = set(ids or ())
        doomed = [
            i
            for i, row in rows.items()
            if i in wanted or (filter is not None and matches(filter, row.document.metadata, spec))
        ]
        for doc_id in doomed:
            del rows[doc_id]
        return len(doomed)

    def delete_all(self, collection: str) -> int:
        _, rows = self._spec_rows(collection)
        n = len(rows)
        rows.clear()
        return n

    # ---- reads ----------------------------------------------------------------------------------
    def get(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Document]:
        _, rows = self._spec_rows(collection)
        return [self._read(rows[i], with_vectors) for i in ids if i in rows]

    @staticmethod
    def _read(row: Row, with_vectors: bool) -> Document:
        if not with_vectors:
            return row.document.model_copy(deep=True)
        return StoredDocument(
            **row.document.model_dump(),
            dense=None if row.dense is None else row.dense.tolist(),
            sparse={name: v for name, v in row.sparse.items() if len(v)},
        )

    def iterate(
        self, collection: str, filter: Optional[Filter] = None, batch_size: int = 1000, with_vectors: bool = False
    ) -> Iterator[list[Document]]:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
            raise ConfigurationError(f"batch_size must be an integer in [1, {MAX_BATCH}], got {batch_size!r}")
        spec, rows = self._spec_rows(collection)
        return self._iterate(spec, rows, filter, batch_size, with_vectors)

    def _iterate(
        self, spec: CollectionSpec, rows: dict[str, Row], filter: Optional[Filter], batch_size: int, with_vectors: bool
    ) -> Iterator[list[Document]]:
        """Ids taken when iteration starts, so each is yielded at most once; rows read as they are then."""
        snapshot = sorted(rows)
        for start in range(0, len(snapshot), batch_size):
            current = [rows[i] for i in snapshot[start : start + batch_size] if i in rows]
            batch = [
                self._read(r, with_vectors)
                for r in current
                if filter is None or matches(filter, r.document.metadata, spec)
            ]
            if batch:
                yield batch

    def count(self, collection: str, filter: Optional[Filter] = None) -> int:
        spec, rows = self._spec_rows(collection)
        return sum(1 for r in rows.values() if filter is None or matches(filter, r.document.metadata, spec))

    # ---- search ---------------------------------------------------------------------------------
    def _candidates(self, collection: str, filter: Optional[Filter]) -> tuple[CollectionSpec, list[Row]]:
        spec, rows = self._spec_rows(collection)
        return spec, [r for r in rows.values() if filter is None or matches(filter, r.document.metadata, spec)]

    @staticmethod
    def _hits(scored: list[tuple[Row, float]], k: int, smaller_first: bool, content: bool) -> list[Hit]:
        scored.sort(key=lambda pair: ((pair[1] if smaller_first else -pair[1]), pair[0].document.id))
        if not content:
            return [Hit(id=row.document.id, score=score) for row, score in scored[:k]]
        return [
            Hit(id=row.document.id, score=score, text=row.document.text, metadata=row.document.metadata)
            for row, score in scored[:k]
        ]

    def search_dense(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        filter: Optional[Filter] = None,
        ef: Optional[int] = None,
        *,
        content: bool = True,
    ) -> list[Hit]:
        spec, rows = self._candidates(collection, filter)
        rows = [r for r in rows if r.dense is not None]
        if not rows:
            return []
        scores = _dense_scores(spec.metric, np.stack([r.dense for r in rows]), vector)
        return self._hits(list(zip(rows, scores.tolist(), strict=True)), k, spec.metric is Metric.L2, content)

    def search_sparse(
        self,
        collection: str,
        vector: SparseVector,
        k: int,
        filter: Optional[Filter] = None,
        field: str = "sparse",
        *,
        content: bool = True,
    ) -> list[Hit]:
        _, rows = self._candidates(collection, filter)
        scored = [(r, float(vector.dot(r.sparse[field]))) for r in rows if field in r.sparse]
        return self._hits([(r, s) for r, s in scored if s > 0], k, False, content)

    def search_text(
        self, collection: str, text: str, k: int, filter: Optional[Filter] = None, *, content: bool = True
    ) -> list[Hit]:
        raise UnsupportedOperationError("MemoryConnector has no full-text index (text_analyzer)")

    def search_hybrid_native(
        self,
        collection: str,
        dense: Optional[np.ndarray],
        sparse: dict[str, SparseVector],
        k: int,
        filter: Optional[Filter] = None,
        rrf_k: float = 60.0,
        window: int = 50,
    ) -> list[Hit]:
        raise UnsupportedOperationError("MemoryConnector has no native hybrid search: fuse on the client")

    def close(self) -> None:
        """Nothing to release; the data stays for connectors opened on the same path."""
