"""BM25 statistics that follow the corpus, kept exactly as additive entries in the collection's log.

A collection whose sparse retriever is a ``LiveBM25Encoder`` keeps its statistics (document
frequency per hashed term, document count, total length) in the store, beside its state, as
append-only *entries* of the collection's log (``Connector.append_log``; ``connectors/state_store.py``).
Each entry holds a ``TermStats`` delta: what the writes and deletes the store acknowledged added
minus what they removed. The statistics are the sum of the entries, so writers never
read-modify-write a shared record: threads, processes and Ray actors append their own entries.

- **Writes** (``write``): the texts stored under the batch's ids are read first; after the upsert,
  the delta is ``stats(batch) - stats(old texts)``. When the upsert fails (``WriteError``, an outage),
  what the store holds is read back and the delta is ``stats(now stored) - stats(old texts)``, so
  only acknowledged rows count; if even that read fails, the ids stay *unsettled* in memory and are
  settled by the next call.
- **Deletes** (``delete``): the texts of the ids (and of the filter's documents) are read, the
  delete runs, and the texts of the documents that are gone afterwards are subtracted.
- **Folding**: every ``FOLD_AFTER`` entries a writer sums its own entries into one that names
  them in ``replaces``, then removes them. A reader ignores every entry named in a visible entry's
  ``replaces``, so it never counts one twice, even between the append and the removal.
- **Reading** (``refresh``): lists the log's versions and reads only the entries it has not seen
  (entries never change); the encoder's ``stats`` is replaced with the sum. Readers see other
  writers' entries within ``max_age`` seconds and their own at once.
- **Compaction** (``replace_all``, used by ``reindex_sparse`` and ``delete_all``): one entry that
  replaces every visible one. Run it while no other process writes to the collection.

Exact as long as one document id is not written by two writers at the same moment (each would
subtract the same old text).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from vecbridge.encoders.bm25_live import LiveBM25Encoder, TermStats
from vecbridge.schemas import ConfigurationError, Filter, IndexBatch

log = logging.getLogger(__name__)

ENTRY_KIND = "bm25-stats"
FOLD_AFTER = 16
READ_IDS = 1000
LOG_METHODS = ("append_log", "log_versions", "read_log", "remove_log")


def supports_log(connector: Any) -> bool:
    """Whether ``connector`` keeps a state log (``append_log``, ``log_versions``, ``read_log``, ``remove_log``)."""
    return all(callable(getattr(connector, m, None)) for m in LOG_METHODS)


@dataclass(frozen=True)
class Entry:
    """One log entry: a statistics delta, the entries it replaces, and the ``avgdl`` its writes used."""

    stats: TermStats
    replaces: tuple[str, ...] = ()
    avgdl_used: Optional[float] = None

    def to_dict(self, writer: str) -> dict[str, Any]:
        return {"kind": ENTRY_KIND, "writer": writer, "stats": self.stats.to_dict(), "replaces": list(self.replaces),
                "avgdl_used": self.avgdl_used}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str) -> "Entry":
        if raw.get("kind") != ENTRY_KIND:
            raise ConfigurationError(f"{where}: log entry of kind {raw.get('kind')!r}, expected {ENTRY_KIND!r}")
        return cls(TermStats.from_dict(raw["stats"]), tuple(raw.get("replaces") or ()), raw.get("avgdl_used"))


class CorpusStats:
    """The statistics of one collection's ``LiveBM25Encoder``, kept in the collection's log (module docstring).

    Thread-safe: writes, deletes and refreshes of one instance may run from several threads.
    """

    def __init__(self, connector: Any, collection: str, encoder: LiveBM25Encoder, max_age: float = 1.0) -> None:
        if not supports_log(connector):
            raise ConfigurationError(
                f"collection {collection!r}: BM25 statistics that follow the corpus need a connector with a state "
                f"log ({', '.join(LOG_METHODS)}); {type(connector).__name__} has none"
            )
        self.connector, self.collection, self.encoder, self.max_age = connector, collection, encoder, max_age
        self.writer = uuid.uuid4().hex  # this instance, in its entries
        self._entries: dict[str, Entry] = {}  # every entry read or written (entries never change)
        self._counted: frozenset[str] = frozenset()  # the versions summed into encoder.stats
        self._own: list[str] = []  # entries this instance appended and has not folded
        self._unremoved: set[str] = set()  # replaced entries whose removal failed
        self._unsettled: dict[str, Optional[str]] = {}  # id -> text before a write/delete of unknown outcome
        self._lock = threading.RLock()
        self._refreshed = float("-inf")
        self.refresh(force=True)

    # ---- reading ---------------------------------------------------------------------------
    @property
    def stats(self) -> TermStats:
        return self.encoder.stats

    def refresh(self, force: bool = False) -> TermStats:
        """The statistics summed from the log (at most ``max_age`` seconds old unless ``force``)."""
        with self._lock:
            if not force and time.monotonic() - self._refreshed < self.max_age:
                return self.encoder.stats
            visible = self.connector.log_versions(self.collection)
            missing = [v for v in visible if v not in self._entries]
            if missing:
                for version, raw in self.connector.read_log(self.collection, missing).items():
                    self._entries[version] = Entry.from_dict(raw, f"collection {self.collection!r}")
            present = [v for v in visible if v in self._entries]  # an entry removed meanwhile is skipped
            self._sum(present)
            self._refreshed = time.monotonic()
            return self.encoder.stats

    def _sum(self, present: Iterable[str]) -> None:
        present = list(present)
        replaced = {r for v in present for r in self._entries[v].replaces}
        counted = frozenset(v for v in present if v not in replaced)
        if counted == self._counted:
            return
        if counted >= self._counted:
            total, add = self.encoder.stats, counted - self._counted
        else:
            total, add = TermStats(), counted
        for version in add:
            total = total + self._entries[version].stats
        total.check(f"collection {self.collection!r}")
        self.encoder.stats, self._counted = total, counted
        for version in list(self._entries):  # forget what no longer counts (and is not ours)
            if version not in present and version not in self._own:
                del self._entries[version]

    def recount(self, batch_size: int = 1000) -> TermStats:
        """The statistics of what the store holds now, from every stored text (``iterate``)."""
        documents = (
            self.encoder.term_ids(doc.text)
            for batch in self.connector.iterate(self.collection, None, batch_size, False) for doc in batch
        )
        return TermStats.of_documents(documents)

    # ---- writing ---------------------------------------------------------------------------
    def write(self, batch: IndexBatch, upsert: Callable[[IndexBatch], int]) -> int:
        """``upsert(batch)``, with the statistics of what the store acknowledged added to the log."""
        self._settle()
        ids = [d.id for d in batch.documents]
        before = self._texts(ids)
        try:
            written = upsert(batch)
        except BaseException:
            self._after_failure(ids, before)
            raise
        added = {d.id: d.text for d in batch.documents}  # a repeated id: the last row is what is stored
        self._record(added.values(), before.values(), avgdl=self.encoder.stats.avgdl, docs=len(added))
        return written

    def delete(self, ids: Optional[Sequence[str]], filter_: Optional[Filter], remove: Callable[[], int]) -> int:
        """``remove()`` (a delete by ``ids`` and/or ``filter_``), with the deleted texts subtracted."""
        self._settle()
        targets = self._texts(list(ids)) if ids else {}
        if filter_ is not None:
            for batch in self.connector.iterate(self.collection, filter_, READ_IDS, False):
                targets.update((doc.id, doc.text) for doc in batch)
        try:
            return remove()
        finally:
            self._after_failure(list(targets), targets)

    def replace_all(self, stats: TermStats) -> None:
        """Make ``stats`` the collection's statistics: one entry replacing every visible one
        (``reindex_sparse``, ``delete_all``). No other process should write meanwhile."""
        with self._lock:
            visible = self.connector.log_versions(self.collection)
            version = self.connector.append_log(self.collection, Entry(stats, tuple(visible)).to_dict(self.writer))
            self._entries[version] = Entry(stats, tuple(visible))
            self._own = []
            self._remove(visible)
            self.encoder.stats, self._counted = stats, frozenset([version])
            self.refresh(force=True)

    def _after_failure(self, ids: list[str], before: dict[str, str]) -> None:
        """Count what the store holds now for ``ids`` against ``before``; unsettled if it cannot be read."""
        if not ids:
            return
        try:
            after = self._texts(ids)
        except Exception:
            log.warning("collection %r: could not read back %d documents after a failed write; their BM25 "
                        "statistics are settled at the next write", self.collection, len(ids))
            with self._lock:
                for i in ids:
                    self._unsettled.setdefault(i, before.get(i))
            return
        self._record(after.values(), before.values(), avgdl=None, docs=0)

    def _settle(self) -> None:
        with self._lock:
            pending, self._unsettled = self._unsettled, {}
        if pending:
            try:
                after = self._texts(list(pending))
            except BaseException:
                with self._lock:
                    self._unsettled = {**pending, **self._unsettled}
                raise
            self._record(after.values(), [t for t in pending.values() if t is not None], avgdl=None, docs=0)

    def _texts(self, ids: Sequence[str]) -> dict[str, str]:
        """``id -> stored text`` of the ids that exist."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), READ_IDS):
            found.update((d.id, d.text) for d in self.connector.get(self.collection, list(ids[start : start + READ_IDS])))
        return found

    def _record(self, added: Iterable[str], removed: Iterable[str], avgdl: Optional[float], docs: int) -> None:
        delta = self.encoder.stats_of(added) - self.encoder.stats_of(removed)
        if delta.empty:
            return
        entry = Entry(delta, avgdl_used=avgdl if docs else None)
        with self._lock:
            version = self.connector.append_log(self.collection, entry.to_dict(self.writer))
            self._entries[version] = entry
            self._own.append(version)
            self.encoder.stats = self.encoder.stats + delta
            self._counted = self._counted | {version}
            if len(self._own) >= FOLD_AFTER:
                self._fold()

    def _fold(self) -> None:
        """Sum this writer's own entries that still count into one entry replacing them."""
        visible = set(self.connector.log_versions(self.collection))
        own = [v for v in self._own if v in visible and v in self._counted]  # a compaction may have taken some
        if len(own) < 2:
            self._own = own
            return
        total = TermStats()
        for version in own:
            total = total + self._entries[version].stats
        replaces = tuple(own) + tuple(sorted(self._unremoved))
        version = self.connector.append_log(self.collection, Entry(total, replaces).to_dict(self.writer))
        self._entries[version] = Entry(total, replaces)
        self._counted = (self._counted - set(own)) | {version}
        self._own = [version]
        self._remove(replaces)

    def _remove(self, versions: Sequence[str]) -> None:
        try:
            self.connector.remove_log(self.collection, list(versions))
        except Exception as exc:  # harmless: an entry named in ``replaces`` is never counted
            log.warning("collection %r: could not remove %d folded BM25 log entries (%s); a later fold retries",
                        self.collection, len(versions), exc)
            self._unremoved.update(versions)
        else:
            self._unremoved.difference_update(versions)


def live_encoder(retrievers: Iterable[Any]) -> Optional[LiveBM25Encoder]:
    """The ``LiveBM25Encoder`` among the sparse retrievers' encoders, or None (at most one per index)."""
    found = [r.encoder for r in retrievers if isinstance(r.encoder, LiveBM25Encoder)]
    unique = list({id(e): e for e in found}.values())
    if len(unique) > 1:
        raise ConfigurationError("an index takes at most one LiveBM25Encoder (its statistics are the collection's)")
    return unique[0] if unique else None


def corpus_stats_of(connector: Any, collection: str, retrievers: Iterable[Any]) -> Optional[CorpusStats]:
    """The statistics keeper of an index whose retrievers include a ``LiveBM25Encoder`` (else None)."""
    encoder = live_encoder(retrievers)
    return None if encoder is None else CorpusStats(connector, collection, encoder)
