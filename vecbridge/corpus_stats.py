"""BM25 statistics that follow the corpus, kept exactly as additive entries in the collection's log.

A collection whose sparse retriever is a ``LiveBM25Encoder`` keeps its statistics (document
frequency per hashed term, document count, total length) in the store, beside its state, as
append-only *entries* of the collection's log (``Connector.append_log``; ``connectors/state_store.py``).
Each entry holds a ``TermStats`` delta: what the writes and deletes the store acknowledged added
minus what they removed. The statistics are the sum of the entries, so writers never
read-modify-write a shared record: threads, processes and Ray actors append their own entries.

- **Writes** (``write``): the texts stored under the batch's ids are read first and an *intent*
  entry (the ids and the statistics of those texts; never counted) is appended. After the upsert,
  a delta ``stats(batch) - stats(old texts)`` that replaces the intent is appended. When the store
  rejects rows (``WriteError``), what it holds is read back and the delta is
  ``stats(now stored) - stats(old texts)``: only acknowledged rows count.
- **Unknown outcomes** (an outage mid-write, a killed process): the intent stays *open*. The next
  write or delete of any of its ids, by any process, first settles it (``stats(now stored) -
  stats(before)``); so does any writer once it is ``STALE_INTENT_S`` old.
- **Deletes** (``delete``): the same, with the ids given and those the filter matches.
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
from vecbridge.schemas import ConfigurationError, Filter, IndexBatch, WriteError

log = logging.getLogger(__name__)

ENTRY_KIND = "bm25-stats"
FOLD_AFTER = 16
STALE_INTENT_S = 600.0
"""An intent this old is settled by the next writer: its write ended long ago (its process died)."""
READ_IDS = 1000
LOG_METHODS = ("append_log", "log_versions", "read_log", "remove_log")


def supports_log(connector: Any) -> bool:
    """Whether ``connector`` keeps a state log (``append_log``, ``log_versions``, ``read_log``, ``remove_log``)."""
    return all(callable(getattr(connector, m, None)) for m in LOG_METHODS)


@dataclass(frozen=True)
class Intent:
    """A write or delete about to run: the ids it touches and the statistics of what they held before."""

    ids: tuple[str, ...]
    before: TermStats


@dataclass(frozen=True)
class Entry:
    """One log entry: a statistics delta (counted unless another entry ``replaces`` it), or an
    ``intent`` (never counted; *open* until a delta replaces it)."""

    stats: TermStats
    replaces: tuple[str, ...] = ()
    intent: Optional[Intent] = None
    written_ns: int = 0

    def to_dict(self, writer: str) -> dict[str, Any]:
        intent = None if self.intent is None else {"ids": list(self.intent.ids), "before": self.intent.before.to_dict()}
        return {
            "kind": ENTRY_KIND,
            "writer": writer,
            "stats": self.stats.to_dict(),
            "replaces": list(self.replaces),
            "intent": intent,
            "written_ns": self.written_ns,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str) -> Entry:
        if raw.get("kind") != ENTRY_KIND:
            raise ConfigurationError(f"{where}: log entry of kind {raw.get('kind')!r}, expected {ENTRY_KIND!r}")
        intent = raw.get("intent")
        return cls(
            TermStats.from_dict(raw["stats"]),
            tuple(raw.get("replaces") or ()),
            None if intent is None else Intent(tuple(intent["ids"]), TermStats.from_dict(intent["before"])),
            int(raw.get("written_ns") or 0),
        )


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
        self._visible: list[str] = []  # the versions the last refresh listed (plus those appended since)
        self._counted: frozenset[str] = frozenset()  # the versions summed into encoder.stats
        self._own: list[str] = []  # entries this instance appended and has not folded
        self._unremoved: set[str] = set()  # replaced entries whose removal failed
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
            self._visible = [v for v in visible if v in self._entries]  # one removed meanwhile is skipped
            self._sum()
            self._refreshed = time.monotonic()
            return self.encoder.stats

    def _replaced(self) -> set[str]:
        return {r for v in self._visible for r in self._entries[v].replaces}

    def _sum(self) -> None:
        replaced = self._replaced()
        counted = frozenset(v for v in self._visible if v not in replaced and self._entries[v].intent is None)
        if counted != self._counted:
            if counted >= self._counted:
                total, add = self.encoder.stats, counted - self._counted
            else:
                total, add = TermStats(), counted
            for version in add:
                total = total + self._entries[version].stats
            total.check(f"collection {self.collection!r}")
            self.encoder.stats, self._counted = total, counted
        keep = set(self._visible) | set(self._own)
        for version in [v for v in self._entries if v not in keep]:  # removed from the store: forget it
            del self._entries[version]

    def open_intents(self) -> dict[str, Intent]:
        """Intents no delta replaced yet (a write whose outcome nobody has counted), by version."""
        with self._lock:
            replaced = self._replaced()
            return {
                v: e.intent for v in self._visible if (e := self._entries[v]).intent is not None and v not in replaced
            }

    def recount(self, batch_size: int = 1000) -> TermStats:
        """The statistics of what the store holds now, from every stored text (``iterate``)."""
        documents = (
            self.encoder.term_ids(doc.text)
            for batch in self.connector.iterate(self.collection, None, batch_size, False)
            for doc in batch
        )
        return TermStats.of_documents(documents)

    # ---- writing ---------------------------------------------------------------------------
    def write(self, batch: IndexBatch, upsert: Callable[[IndexBatch], int]) -> int:
        """``upsert(batch)``, with the statistics of what the store acknowledged added to the log."""
        ids = list(dict.fromkeys(d.id for d in batch.documents))
        intent, before = self._intend(ids)
        try:
            written = upsert(batch)
        except WriteError:  # the store answered: count what it holds now
            self._settle(intent, ids, before.values())
            raise
        added = {d.id: d.text for d in batch.documents}  # a repeated id: the last row is what is stored
        self._append(Entry(self.encoder.stats_of(added.values()) - self.encoder.stats_of(before.values()), (intent,)))
        return written

    def delete(self, ids: Optional[Sequence[str]], filter_: Optional[Filter], remove: Callable[[], int]) -> int:
        """``remove()`` (a delete by ``ids`` and/or ``filter_``), with the deleted texts subtracted."""
        targets = list(ids or ())
        if filter_ is not None:
            for batch in self.connector.iterate(self.collection, filter_, READ_IDS, False):
                targets.extend(doc.id for doc in batch)
        targets = list(dict.fromkeys(targets))
        intent, before = self._intend(targets)
        deleted = remove()
        self._settle(intent, targets, before.values())
        return deleted

    def settle_open_intents(self, older_than: float = 0.0, ids: Optional[set[str]] = None) -> int:
        """Count the outcome of open intents (written at least ``older_than`` seconds ago, or touching
        ``ids``): what their ids hold now minus what they held before. Returns how many."""
        now = time.time_ns()
        settled = 0
        for version, intent in self.open_intents().items():
            touches = ids is not None and not ids.isdisjoint(intent.ids)
            if touches or now - self._entries[version].written_ns >= older_than * 1e9:
                after = self._texts(list(intent.ids))
                self._append(Entry(self.encoder.stats_of(after.values()) - intent.before, (version,)))
                settled += 1
        return settled

    def replace_all(self, stats: TermStats) -> None:
        """Make ``stats`` the collection's statistics: one entry replacing every visible one
        (``reindex_sparse``, ``delete_all``). No other process should write meanwhile."""
        with self._lock:
            visible = self.connector.log_versions(self.collection)
            entry = Entry(stats, tuple(visible), written_ns=time.time_ns())
            version = self.connector.append_log(self.collection, entry.to_dict(self.writer))
            self._entries[version] = entry
            self._own = []
            self._remove(visible)
            self.refresh(force=True)

    def _intend(self, ids: list[str]) -> tuple[str, dict[str, str]]:
        """Settle open intents on ``ids`` (or stale ones), then append this call's intent: (its version,
        texts before)."""
        self.refresh(force=True)
        self.settle_open_intents(STALE_INTENT_S, set(ids))
        before = self._texts(ids)
        intent = Entry(TermStats(), intent=Intent(tuple(ids), self.encoder.stats_of(before.values())))
        return self._append(intent), before

    def _settle(self, intent: str, ids: list[str], before: Iterable[str]) -> None:
        after = self._texts(ids)
        self._append(Entry(self.encoder.stats_of(after.values()) - self.encoder.stats_of(before), (intent,)))

    def _texts(self, ids: Sequence[str]) -> dict[str, str]:
        """``id -> stored text`` of the ids that exist."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), READ_IDS):
            found.update(
                (d.id, d.text) for d in self.connector.get(self.collection, list(ids[start : start + READ_IDS]))
            )
        return found

    def _append(self, entry: Entry) -> str:
        """Append ``entry`` to the log and count it here at once (its version)."""
        entry = Entry(entry.stats, entry.replaces, entry.intent, time.time_ns())
        with self._lock:
            version = self.connector.append_log(self.collection, entry.to_dict(self.writer))
            self._entries[version] = entry
            self._own.append(version)
            self._visible.append(version)
            self._sum()
            if len(self._own) >= FOLD_AFTER:
                self._fold()
            return version

    def _fold(self) -> None:
        """Sum this writer's own entries into one entry replacing them (intents it settled included)."""
        self.refresh(force=True)
        visible = set(self._visible)
        own = [v for v in self._own if v in visible]
        counted = [v for v in own if v in self._counted]
        if len(own) < 2 or any(intent in own for intent in self.open_intents()):
            return  # an own intent is still open (a write in flight on another thread): fold later
        total = TermStats()
        for version in counted:
            total = total + self._entries[version].stats
        inner = {r for v in own for r in self._entries[v].replaces if r in visible}  # e.g. intents they settled
        replaces = tuple(own) + tuple(sorted((inner | self._unremoved) - set(own)))
        entry = Entry(total, replaces, written_ns=time.time_ns())
        version = self.connector.append_log(self.collection, entry.to_dict(self.writer))
        self._entries[version] = entry
        self._own = [version]
        self._visible.append(version)
        self._sum()
        self._remove(replaces)

    def _remove(self, versions: Sequence[str]) -> None:
        try:
            self.connector.remove_log(self.collection, list(versions))
        except Exception as exc:  # harmless: an entry named in ``replaces`` is never counted
            log.warning(
                "collection %r: could not remove %d folded BM25 log entries (%s); a later fold retries",
                self.collection,
                len(versions),
                exc,
            )
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
