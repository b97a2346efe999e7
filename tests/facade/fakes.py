"""Test doubles: a brute-force in-memory connector; the encoder stand-ins live in ``vecbridge.testing.encoders``."""

from __future__ import annotations

import json
from typing import Optional

import numpy as np

from vecbridge.schemas import (
    CollectionMismatchError,
    CollectionNotFoundError,
    CollectionSpec,
    Document,
    Hit,
    IndexBatch,
    SparseVector,
    StoredDocument,
    UnsupportedOperationError,
    matches,
)
from vecbridge.testing.encoders import BagOfWordsEncoder, PrecomputedEncoder  # noqa: F401  (re-exported)


class InMemoryConnector:
    """Exact brute-force search; filters through the reference evaluator ``vecbridge.schemas.matches``."""

    def __init__(self) -> None:
        self.specs: dict[str, CollectionSpec] = {}
        self.rows: dict[str, dict[str, tuple[Document, Optional[np.ndarray], dict[str, SparseVector]]]] = {}
        self.states: dict[str, str] = {}

    def ensure_collection(self, spec):
        old = self.specs.get(spec.name)
        if old is not None and old != spec:
            raise CollectionMismatchError(f"collection {spec.name!r} exists with a different spec")
        self.specs[spec.name] = spec
        self.rows.setdefault(spec.name, {})

    def has_collection(self, name):
        return name in self.specs

    def drop_collection(self, name):
        self.specs.pop(name, None)
        self.rows.pop(name, None)
        self.states.pop(name, None)

    def read_state(self, collection):
        return json.loads(self.states[collection]) if collection in self.states else None

    def write_state(self, collection, state):
        self.states[collection] = json.dumps(state)

    def _rows(self, name):
        if name not in self.rows:
            raise CollectionNotFoundError(name)
        return self.rows[name]

    def upsert(self, collection, batch: IndexBatch):
        rows = self._rows(collection)
        for i, doc in enumerate(batch.documents):
            dense = batch.dense[i] if batch.has_dense(i) else None
            rows[doc.id] = (doc, dense, {f: v[i] for f, v in batch.sparse.items()})
        return len(batch)

    def delete(self, collection, ids=None, filter=None):
        rows = self._rows(collection)
        doomed = [
            i
            for i, (d, _, _) in rows.items()
            if (ids and i in ids) or (filter and matches(filter, d.metadata, self.specs.get(collection)))
        ]
        for i in doomed:
            del rows[i]
        return len(doomed)

    def get(self, collection, ids, with_vectors=False):
        rows = self._rows(collection)
        return [self._stored(rows[i]) if with_vectors else rows[i][0] for i in ids if i in rows]

    @staticmethod
    def _stored(row):
        doc, dense, sparse = row
        return StoredDocument(
            **doc.model_dump(),
            dense=None if dense is None else [float(x) for x in dense],
            sparse={f: v for f, v in sparse.items() if len(v)},
        )

    def iterate(self, collection, filter=None, batch_size=1000, with_vectors=False):
        rows = self._rows(collection)
        ids = sorted(
            i
            for i, (d, _, _) in rows.items()
            if filter is None or matches(filter, d.metadata, self.specs.get(collection))
        )
        for start in range(0, len(ids), batch_size):
            yield self.get(collection, ids[start : start + batch_size], with_vectors)

    def delete_all(self, collection):
        rows = self._rows(collection)
        n = len(rows)
        rows.clear()
        return n

    def count(self, collection, filter=None):
        return sum(
            1
            for d, _, _ in self._rows(collection).values()
            if filter is None or matches(filter, d.metadata, self.specs.get(collection))
        )

    def _top(self, collection, score, k, filter, positive_only=False):
        scored = [
            Hit(id=d.id, score=score(dense, sparse), text=d.text, metadata=d.metadata)
            for d, dense, sparse in self._rows(collection).values()
            if filter is None or matches(filter, d.metadata, self.specs.get(collection))
        ]
        scored = [h for h in scored if h.score > 0 or not positive_only]  # sparse: no overlap, no hit
        return sorted(scored, key=lambda h: (-h.score, h.id))[:k]

    def search_dense(self, collection, vector, k, filter=None):
        # a document stored without a dense vector is never a dense hit
        without = {i for i, (_, dense, _) in self._rows(collection).items() if dense is None}
        hits = self._top(
            collection,
            lambda dense, _: 0.0 if dense is None else float(np.dot(dense, vector)),
            k + len(without),
            filter,
        )
        return [h for h in hits if h.id not in without][:k]

    def search_sparse(self, collection, vector, k, filter=None, field="sparse"):
        return self._top(collection, lambda _, sparse: sparse[field].dot(vector), k, filter, positive_only=True)

    def search_text(self, *args, **kwargs):
        raise UnsupportedOperationError("in-memory connector has no text search")

    def search_hybrid_native(self, *args, **kwargs):
        raise UnsupportedOperationError("in-memory connector has no native hybrid search")

    def close(self):
        pass
