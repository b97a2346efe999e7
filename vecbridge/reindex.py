"""Re-encode a collection's BM25 sparse vectors with statistics recounted from what the store holds.

A ``LiveBM25Encoder`` document vector is normalised with the corpus's ``avgdl`` when the document
is written; as the corpus grows or shrinks, ``avgdl`` moves (the *drift*). ``reindex_sparse``
recounts the statistics from every stored text, makes them the collection's (one log entry that
replaces the others), and rewrites every document's sparse vector with the current ``avgdl``,
keeping its dense vector, text and metadata as stored.

``migrate_frozen`` turns a collection built with frozen statistics (a fitted ``BM25Encoder``, term
ids = vocabulary ranks) into one with a ``LiveBM25Encoder`` (hashed term ids): the same k1, b,
analyzer and max_length, every sparse vector re-encoded, and the stored state updated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from vecbridge.corpus_stats import CorpusStats
from vecbridge.encoders.bm25 import BM25Encoder
from vecbridge.encoders.bm25_live import LiveBM25Encoder
from vecbridge.schemas import ConfigurationError, Document, IndexBatch

if TYPE_CHECKING:  # the index calls this module (HybridIndex.reindex_sparse); no import back at run time
    from vecbridge.index import HybridIndex, Retriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReindexReport:
    """What ``reindex_sparse`` did: documents re-encoded, and the ``avgdl`` before (as the log said)
    and after (recounted)."""

    documents: int
    avgdl_before: float
    avgdl_after: float
    n_docs: int

    def summary(self) -> str:
        return (
            f"re-encoded {self.documents} sparse vectors; {self.n_docs} documents, avgdl "
            f"{self.avgdl_before:.2f} (log) -> {self.avgdl_after:.2f} (recount)"
        )


def _sparse_retriever(index: HybridIndex) -> Retriever:
    found = [
        r
        for r in index.retrievers.values()
        if getattr(r.kind, "value", r.kind) == "sparse" and isinstance(r.encoder, (LiveBM25Encoder, BM25Encoder))
    ]
    if not found:
        raise ConfigurationError(f"collection {index.spec.name!r} has no BM25 sparse retriever to reindex")
    return found[0]


def reindex_sparse(index: HybridIndex, batch_size: int = 256, progress: bool = False) -> ReindexReport:
    """Recount the statistics and rewrite every sparse vector (see the module docstring)."""
    retriever = _sparse_retriever(index)
    stats_keeper: Optional[CorpusStats] = index.corpus_stats
    if stats_keeper is None or not isinstance(retriever.encoder, LiveBM25Encoder):
        raise ConfigurationError(
            f"collection {index.spec.name!r} uses frozen BM25 statistics: migrate it with "
            f"`vecbridge reindex --sparse` (vecbridge.reindex.migrate_frozen)"
        )
    encoder = retriever.encoder
    before = stats_keeper.refresh(force=True).avgdl
    stats = stats_keeper.recount()
    stats_keeper.replace_all(stats)
    written = rewrite_sparse(index, encoder, retriever.field, batch_size, progress)
    return ReindexReport(written, before, stats.avgdl, stats.n_docs)


def rewrite_sparse(index: HybridIndex, encoder: Any, field: str, batch_size: int, progress: bool) -> int:
    """Rewrite the ``field`` vector of every stored document with ``encoder``; dense vectors as stored."""
    name = index.spec.name
    has_dense = index.spec.dense_dim is not None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=index.count(), unit="doc", desc="reindexing")
    written = 0
    for stored in index.connector.iterate(name, None, batch_size, has_dense):
        documents = [Document(id=d.id, text=d.text, metadata=dict(d.metadata)) for d in stored]
        sparse = encoder.encode_documents([d.text for d in documents]).sparse
        dense = present = None
        if has_dense:
            present = [getattr(d, "dense", None) is not None for d in stored]
            dense = np.asarray(
                [d.dense if d.dense is not None else [0.0] * (index.spec.dense_dim or 0) for d in stored],
                dtype=np.float32,
            )
        batch = IndexBatch(
            documents=documents,
            dense=dense,
            sparse={field: sparse},
            dense_present=None if present is None or all(present) else present,
        )
        written += index.connector.upsert(name, batch)  # same texts: the statistics do not change
        if bar is not None:
            bar.update(len(documents))
    if bar is not None:
        bar.close()
    return written


def migrate_frozen(
    index: HybridIndex, state: Any, batch_size: int = 256, progress: bool = False
) -> tuple[HybridIndex, ReindexReport]:
    """A collection with frozen BM25 statistics re-encoded with a ``LiveBM25Encoder`` (module docstring).

    ``state``: the collection's ``vecbridge.state.CollectionState``; its ``encoders["bm25"]`` becomes
    the live encoder's parameters once every vector is rewritten. Returns the new index and the report.
    """
    retriever = _sparse_retriever(index)
    frozen = retriever.encoder
    if not isinstance(frozen, BM25Encoder):
        raise ConfigurationError(f"collection {index.spec.name!r} already uses BM25 statistics that follow the corpus")
    if frozen.analyzer is None:
        raise ConfigurationError(f"collection {index.spec.name!r}: a custom BM25 tokenizer cannot be migrated here")
    live = LiveBM25Encoder(
        frozen.k1, frozen.b, analyzer=frozen.analyzer, max_length=frozen.max_length, name=frozen.name
    )
    retrievers = [
        type(r)(r.name, live if r is retriever else r.encoder, r.kind, r.field) for r in index.retrievers.values()
    ]
    migrated = type(index)(
        index.connector,
        index.spec,
        retrievers,
        reranker=index.reranker,
        batch_size=index.batch_size,
        concurrent=index.concurrent,
    )
    stats_keeper = migrated.corpus_stats
    if stats_keeper is None:  # pragma: no cover - a LiveBM25Encoder is among the retrievers
        raise ConfigurationError(f"collection {index.spec.name!r}: no BM25 statistics keeper after migration")
    stats = stats_keeper.recount()
    stats_keeper.replace_all(stats)
    written = rewrite_sparse(migrated, live, retriever.field, batch_size, progress)
    state.encoders["bm25"] = live.to_dict()
    index.connector.write_state(index.spec.name, state.to_dict())
    log.warning(
        "collection %r: BM25 migrated to statistics that follow the corpus (%d vectors re-encoded)",
        index.spec.name,
        written,
    )
    return migrated, ReindexReport(written, frozen.avgdl, stats.avgdl, stats.n_docs)
