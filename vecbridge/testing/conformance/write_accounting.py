"""Conformance: exact write accounting with mixed good and bad documents.

Each upsert writes every valid document; ``WriteError.failed`` holds exactly the bad ids and
``WriteError.written`` the good ones; afterwards ``count()`` equals the total written and ``get()``
finds exactly the written ids. Batches of several sizes, most larger than the connector's chunk
size (set to 3 here), so bad rows fall into different chunks.
"""

from __future__ import annotations

import pytest

from vecbridge.schemas import Document, IndexBatch, WriteError
from vecbridge.testing.conformance.base import ConformanceBase
from vecbridge.testing.data import make_corpus, spec

CHUNK = 3
SIZES = (1, 2, 5, 7, 16, 31)


def _bad_kinds(backend) -> list[str]:
    kinds = ["wrong_type_int", "wrong_type_bool", "bad_datetime"]
    if backend.rejects_quote_ids:
        kinds.append("quote_id")
    return kinds


def _spoil(doc: Document, kind: str) -> Document:
    metadata = dict(doc.metadata)
    if kind == "wrong_type_int":
        metadata["year"] = "nineteen"
    elif kind == "wrong_type_bool":
        metadata["flag"] = "yes"
    elif kind == "bad_datetime":
        metadata["when"] = "not a date"
    else:
        return Document(id=doc.id + "'q", text=doc.text, metadata=metadata)
    return Document(id=doc.id, text=doc.text, metadata=metadata)


class WriteAccountingTests(ConformanceBase):
    """Exact write accounting with mixed good and bad documents."""

    def test_mixed_batches_write_exactly_the_good_documents(self, backend, connector, collection_name):
        corpus = make_corpus(sum(SIZES), seed=5)
        connector.ensure_collection(spec(collection_name))
        backend.set_chunk_size(connector, CHUNK)
        kinds = _bad_kinds(backend)
        total, start, n_bad = 0, 0, 0
        for size in SIZES:
            rows = list(range(start, start + size))
            start += size
            batch = corpus.batch(rows)
            docs = list(batch.documents)
            bad: set[str] = set()
            for j in range(len(docs)):
                if size > 1 and (rows[j] % 3 == 1 or j == len(docs) - 1):  # spread over chunks, incl. the last row
                    docs[j] = _spoil(docs[j], kinds[n_bad % len(kinds)])
                    bad.add(docs[j].id)
                    n_bad += 1
            good = [d.id for d in docs if d.id not in bad]
            mixed = IndexBatch(documents=docs, dense=batch.dense, sparse=batch.sparse)
            if bad:
                with pytest.raises(WriteError) as info:
                    connector.upsert(collection_name, mixed)
                assert set(info.value.failed) == bad, f"batch of {size}"
                assert info.value.written == len(good)
                assert all(info.value.failed[i] for i in bad)  # every id has a reason
            else:
                assert connector.upsert(collection_name, mixed) == size
            total += len(good)
            assert connector.count(collection_name) == total, f"after the batch of {size}"
            found = connector.get(collection_name, [d.id for d in docs])
            assert [d.id for d in found] == good
        assert n_bad >= 2 * len(kinds)  # every kind of bad document was tried more than once
