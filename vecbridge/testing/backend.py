"""``Backend``: what the conformance suite needs to know about the store under test.

A test class that runs the suite supplies one ``backend`` fixture returning a ``Backend``. Only
``name`` and ``open`` are required; the other fields describe what the store reports or supports,
so that the suite checks it exactly (e.g. a store that rounds stored sparse weights says how).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from vecbridge.connectors.base import Connector
from vecbridge.connectors.state_store import StateRecords
from vecbridge.schemas import Metric, SparseVector

__all__ = ["Backend", "exact_sparse_scores", "identity_dense_score"]


def identity_dense_score(metric: Metric, similarity: float) -> float:
    """The store reports IP and cosine as is and L2 as the squared distance (what the oracle gives)."""
    return similarity


def exact_sparse_scores(stored: Sequence[SparseVector], query: SparseVector) -> np.ndarray:
    """Sparse inner products in float64 with the weights as written."""
    return np.array([query.dot(v) for v in stored], dtype=np.float64)


def _set_batch_size(connector: Connector, n: int) -> None:
    connector.batch_size = n  # type: ignore[attr-defined]  # not in the protocol; test connectors have it


@dataclass(frozen=True)
class Backend:
    """One store under test.

    - ``name``: shown in messages and used for per-backend temporary folders.
    - ``open(workdir)``: a new connector on the store. Called twice with the same ``workdir`` it
      must reach the same data (the persistence tests close and reopen). ``workdir`` is a fresh
      folder per test (file-based stores keep their files there); server stores may ignore it:
      every test uses its own collection and drops it afterwards.
    - ``supports_hybrid_native``: whether ``search_hybrid_native`` works (else it must raise
      ``UnsupportedOperationError``): a bool, or ``f(connector) -> bool`` when it depends on the
      server (Elasticsearch: the licence). Ask through ``hybrid_native(connector)``.
    - ``dense_score(metric, exact)``: raw score expected for an exact similarity (exact = IP, cosine,
      or squared L2 distance for ``Metric.L2``).
    - ``sparse_scores(stored, query)``: the raw sparse scores the store should report for every
      stored vector, including any storage rounding it does (so the check stays exact).
    - ``sparse_tol``: relative tolerance of sparse scores against ``sparse_scores`` (float32 sums).
    - ``rejects_quote_ids``: ids holding ``'`` cannot be stored (Milvus Lite's engine); the write
      accounting test then also writes such ids and expects them in ``WriteError.failed``.
    - ``set_chunk_size(connector, n)``: make the connector write in chunks of ``n`` rows.
    - ``text_analyzers``: the ``CollectionSpec.text_analyzer`` values whose full-text BM25 the store
      builds and ``search_text`` searches (checked against vecbridge's BM25 with the same analysis);
      empty: the store has no such setting (its text tests are skipped).
    - ``search_without_content``: whether the connector declares ``SEARCH_WITHOUT_CONTENT`` (the
      optional ``content=False`` searches, then checked); the suite checks the declaration either way.
    - ``state_records(connector)``: the ``vecbridge.connectors.state_store.StateRecords`` the connector
      keeps its state in, to check that an overwrite leaves no old version behind (None: not checked).
    - ``reserved_state_name``: the collection name reserved for the state records, which
      ``write_state`` must refuse (None: not checked).
    """

    name: str
    open: Callable[[Path], Connector]
    supports_hybrid_native: Union[bool, Callable[[Connector], bool]] = True
    dense_score: Callable[[Metric, float], float] = identity_dense_score
    sparse_scores: Callable[[Sequence[SparseVector], SparseVector], np.ndarray] = exact_sparse_scores
    sparse_tol: float = 1e-4
    rejects_quote_ids: bool = False
    set_chunk_size: Callable[[Connector, int], None] = _set_batch_size
    text_analyzers: tuple[str, ...] = ()
    search_without_content: bool = True
    state_records: Optional[Callable[[Connector], StateRecords]] = None
    reserved_state_name: Optional[str] = None

    def hybrid_native(self, connector: Connector) -> bool:
        """Whether ``connector`` (of this backend) must support ``search_hybrid_native``."""
        flag = self.supports_hybrid_native
        return flag(connector) if callable(flag) else bool(flag)
