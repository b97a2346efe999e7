"""``IndexBatch.dense_present`` is checked where the batch is built (no store involved)."""

import pytest

from vecbridge.schemas import IndexBatch
from vecbridge.testing.data import make_corpus


def test_index_batch_checks_dense_present():
    corpus = make_corpus(3, 16, seed=14)
    with pytest.raises(ValueError, match="dense_present has 2 entries for 3 documents"):
        IndexBatch(documents=corpus.documents, dense=corpus.dense, dense_present=[True, False])
    with pytest.raises(ValueError, match="dense_present needs dense"):
        IndexBatch(documents=corpus.documents, dense_present=[True, False, True])
    batch = IndexBatch(documents=corpus.documents, dense=corpus.dense, dense_present=[True, False, True])
    assert [batch.has_dense(i) for i in range(3)] == [True, False, True]
    assert batch.slice(1, 3).dense_present == [False, True]
