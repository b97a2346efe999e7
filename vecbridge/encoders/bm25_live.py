"""BM25 that follows the corpus: hashed term ids, idf on the query side, statistics kept by the caller.

``LiveBM25Encoder`` has no vocabulary. A term's id is a stable hash of the analyzed term
(``term_id``: the first 4 bytes of BLAKE2b, 31 bits), so every writer gives a term the same id
without a shared dictionary, and a term first seen today is indexed today.

The score is the classic BM25 of ``encoders/bm25.py`` with the idf moved to the query side:

- document weight of term ``t``: ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``, with the
  ``avgdl`` of the statistics when the document is encoded (``bm25_tf_weights``);
- query weight: ``idf(t) * qtf(t)`` with Lucene's idf from the statistics current at query time.

So document frequencies and the document count only ever enter at query time; only the length
normalisation of a document depends on when it was written (``avgdl`` drift: see
``HybridIndex.reindex_sparse``). ``TermStats`` holds the statistics: per-term document
frequencies, document count and total length, additive (``+`` / ``-``) so that writers can keep
them exactly with delta records (``vecbridge/corpus_stats.py``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from vecbridge.encoders.base import OutputKind, encode_in_batches
from vecbridge.encoders.bm25 import DEFAULT_B, DEFAULT_K1, bm25_tf_weights, check_bm25_options, lucene_idf
from vecbridge.encoders.scripts import WORD_ANALYZER_SCRIPTS
from vecbridge.encoders.tokenize import DEFAULT_ANALYZER, Analyzer, AnalyzerLike, get_analyzer
from vecbridge.schemas import ConfigurationError, Embeddings, SparseVector

FORMAT_VERSION = 2
"""Version 1 is the frozen, fitted-vocabulary ``BM25Encoder``; 2 is this encoder (no vocabulary)."""
TERM_SPACE = "blake2b-31"
TERM_ID_BITS = 31
_TERM_MASK = (1 << TERM_ID_BITS) - 1
_NAMES_KEPT = 1_000_000  # most terms remembered for ``decode``


def term_id(term: str) -> int:
    """The stable id of an analyzed term: BLAKE2b's first 4 bytes, 31 bits (every process, every run)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") & _TERM_MASK


@dataclass
class TermStats:
    """Corpus statistics: document frequency per term id, document count, total length (in terms).

    Additive: ``a + b`` and ``a - b`` combine the statistics of disjoint document sets (a delta record
    is ``added - removed``); terms whose frequency reaches 0 are dropped, so a recount of what remains
    compares equal.
    """

    df: dict[int, int] = field(default_factory=dict)
    n_docs: int = 0
    total_len: int = 0

    @property
    def avgdl(self) -> float:
        """Mean document length (0.0 for an empty corpus)."""
        return self.total_len / self.n_docs if self.n_docs > 0 else 0.0

    @classmethod
    def of_documents(cls, documents: Iterable[tuple[Iterable[int], int]]) -> TermStats:
        """The statistics of documents given as ``(term ids, length)``."""
        df: Counter[int] = Counter()
        n = total = 0
        for ids, length in documents:
            df.update(set(ids))
            n += 1
            total += int(length)
        return cls(dict(df), n, total)

    def _combine(self, other: TermStats, sign: int) -> TermStats:
        df = dict(self.df)
        for t, count in other.df.items():
            value = df.get(t, 0) + sign * count
            if value:
                df[t] = value
            else:
                df.pop(t, None)
        return TermStats(df, self.n_docs + sign * other.n_docs, self.total_len + sign * other.total_len)

    def __add__(self, other: TermStats) -> TermStats:
        return self._combine(other, 1)

    def __sub__(self, other: TermStats) -> TermStats:
        return self._combine(other, -1)

    @property
    def empty(self) -> bool:
        return not self.df and self.n_docs == 0 and self.total_len == 0

    def check(self, what: str) -> None:
        """Raise when a count is negative: the records no longer describe the store (``what`` names them)."""
        negative = sorted(t for t, c in self.df.items() if c < 0)[:5]
        if self.n_docs < 0 or self.total_len < 0 or negative:
            raise ConfigurationError(
                f"{what}: negative BM25 statistics (n_docs={self.n_docs}, total_len={self.total_len}, "
                f"terms {negative}); recount them with `vecbridge reindex --sparse` (index.reindex_sparse())"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``ids`` sorted and ``df`` aligned, ``n_docs``, ``total_len``."""
        ids = sorted(self.df)
        return {"ids": ids, "df": [self.df[t] for t in ids], "n_docs": self.n_docs, "total_len": self.total_len}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TermStats:
        ids, df = raw["ids"], raw["df"]
        if len(ids) != len(df):
            raise ConfigurationError(f"BM25 statistics record: {len(ids)} ids but {len(df)} frequencies")
        return cls({int(t): int(c) for t, c in zip(ids, df, strict=True)}, int(raw["n_docs"]), int(raw["total_len"]))


class LiveBM25Encoder:
    """BM25 over hashed term ids whose statistics (``stats``, a ``TermStats``) follow the corpus.

    ``stats`` is replaced, never mutated, by whoever keeps the corpus statistics (``HybridIndex``
    reads them from the store before it encodes); encoding reads one ``stats`` object per call, so
    threads may share the encoder. ``fit`` sets ``stats`` from texts (an offline index, tests).
    ``analyzer``, ``tokenizer``, ``max_length``: as ``BM25Encoder``.
    """

    outputs = frozenset({OutputKind.SPARSE})
    dense_dim: Optional[int] = None
    sparse_vocab_size: Optional[int] = None  # hashed: no vocabulary
    live_stats = True  # the facade keeps ``stats`` current (vecbridge/corpus_stats.py)

    def __init__(
        self,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        *,
        analyzer: AnalyzerLike = DEFAULT_ANALYZER,
        tokenizer: Optional[Callable[[str], list[str]]] = None,
        max_length: Optional[int] = None,
        batch_size: int = 1024,
        progress: bool = False,
        name: str = "bm25",
    ) -> None:
        check_bm25_options(k1, b, max_length, batch_size)
        self.k1, self.b = float(k1), float(b)
        self.analyzer: Optional[Analyzer] = None if tokenizer is not None else get_analyzer(analyzer)
        self.tokenizer: Callable[[str], list[str]] = tokenizer or self.analyzer  # type: ignore[assignment]
        self.scripts = None if tokenizer is not None else WORD_ANALYZER_SCRIPTS
        self.max_length, self.batch_size, self.progress, self.name = max_length, batch_size, progress, name
        self.stats = TermStats()
        self._ids: dict[str, int] = {}  # term -> id cache (also what ``decode`` reads)
        self._ids_lock = threading.Lock()

    # ---- terms ---------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """The terms read from ``text`` (analyzer output, capped at ``max_length``)."""
        terms = self.tokenizer(text)
        return terms if self.max_length is None else terms[: self.max_length]

    def _id(self, term: str) -> int:
        found = self._ids.get(term)
        if found is None:
            found = term_id(term)
            if len(self._ids) < _NAMES_KEPT:
                with self._ids_lock:
                    self._ids[term] = found
        return found

    def term_ids(self, text: str) -> tuple[list[int], int]:
        """``(term ids with repeats, length)`` of a text: what it adds to the statistics."""
        ids = [self._id(t) for t in self.tokenize(text)]
        return ids, len(ids)

    def stats_of(self, texts: Iterable[str]) -> TermStats:
        """The statistics of ``texts`` taken as documents."""
        return TermStats.of_documents(self.term_ids(t) for t in texts)

    def fit(self, corpus_texts: Sequence[str]) -> LiveBM25Encoder:
        """Set ``stats`` to the statistics of a corpus (replacing any)."""
        if isinstance(corpus_texts, str) or not corpus_texts:
            raise ConfigurationError("fit needs a non-empty sequence of texts (corpus_texts)")
        self.stats = self.stats_of(corpus_texts)
        return self

    # ---- encoding ------------------------------------------------------------------------
    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        """Document vectors: the BM25 tf part per term, length-normalized with the current ``avgdl``
        (with none yet, the batch's own)."""
        cache = self._terms(texts)
        stats = self.stats
        avgdl = stats.avgdl
        if avgdl <= 0:
            lengths = [len(v) for v in cache.values()]
            avgdl = (sum(lengths) / len(lengths)) if lengths and sum(lengths) else 1.0

        def vectorize(ids: list[int]) -> SparseVector:
            counts = Counter(ids)
            keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            return SparseVector(indices=keys, values=bm25_tf_weights(tf, len(ids), avgdl, self.k1, self.b))

        return self._encode(texts, cache, vectorize, "bm25 documents")

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        """Query vectors: ``idf * count`` per term with the current statistics (terms no document has are left out)."""
        cache = self._terms(texts)
        stats = self.stats

        def vectorize(ids: list[int]) -> SparseVector:
            counts = Counter(t for t in ids if stats.df.get(t, 0) > 0)
            keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            df = np.fromiter((stats.df[t] for t in counts), dtype=np.float64, count=len(counts))
            qtf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            return SparseVector(indices=keys, values=lucene_idf(df, stats.n_docs) * qtf)

        return self._encode(texts, cache, vectorize, "bm25 queries")

    def _terms(self, texts: Sequence[str]) -> dict[str, list[int]]:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not a single string")
        return {t: self.term_ids(t)[0] for t in texts if isinstance(t, str)}

    def _encode(
        self,
        texts: Sequence[str],
        cache: dict[str, list[int]],
        vectorize: Callable[[list[int]], SparseVector],
        what: str,
    ) -> Embeddings:
        lengths = [len(cache.get(t, ())) for t in texts]

        def encode_batch(batch: list[str]) -> Embeddings:
            return Embeddings(sparse=[vectorize(cache[t]) for t in batch])

        return encode_in_batches(texts, lengths, self.batch_size, encode_batch, self.progress, what)

    def decode(self, vector: SparseVector, top: Optional[int] = None) -> list[tuple[str, float]]:
        """``(term, weight)`` pairs, heaviest first; a term this process never hashed shows as ``#<id>``."""
        names = {i: t for t, i in list(self._ids.items())}
        order = np.argsort(-vector.values, kind="stable")[:top]
        return [
            (names.get(int(vector.indices[i]), f"#{int(vector.indices[i])}"), float(vector.values[i])) for i in order
        ]

    # ---- persistence (parameters only: the statistics live in the store) ---------------------
    @property
    def analyzer_id(self) -> str:
        return "custom" if self.analyzer is None else json.dumps(self.analyzer.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-able dict (``format_version`` 2, no statistics)."""
        return {
            "format_version": FORMAT_VERSION,
            "term_space": TERM_SPACE,
            "name": self.name,
            "k1": self.k1,
            "b": self.b,
            "max_length": self.max_length,
            "analyzer": "custom" if self.analyzer is None else self.analyzer.to_dict(),
        }

    @classmethod
    def from_dict(
        cls,
        params: dict[str, Any],
        *,
        tokenizer: Optional[Callable[[str], list[str]]] = None,
        batch_size: int = 1024,
        progress: bool = False,
        source: str = "BM25 parameters",
    ) -> LiveBM25Encoder:
        """The encoder :meth:`to_dict` described (its statistics empty until set)."""
        if params.get("format_version") != FORMAT_VERSION or params.get("term_space") != TERM_SPACE:
            raise ConfigurationError(
                f"{source}: format_version={params.get('format_version')!r} term_space={params.get('term_space')!r}; "
                f"this encoder reads {FORMAT_VERSION} / {TERM_SPACE}"
            )
        if params["analyzer"] == "custom" and tokenizer is None:
            raise ConfigurationError(f"{source} used a custom tokenizer: pass tokenizer=")
        analyzer = "plain" if params["analyzer"] == "custom" else params["analyzer"]
        return cls(
            params["k1"],
            params["b"],
            analyzer=analyzer,
            tokenizer=tokenizer,
            max_length=params["max_length"],
            batch_size=batch_size,
            progress=progress,
            name=params["name"],
        )


def is_live(params: Any) -> bool:
    """Whether stored BM25 parameters describe a ``LiveBM25Encoder`` (else: a frozen, fitted ``BM25Encoder``)."""
    return isinstance(params, dict) and params.get("format_version") == FORMAT_VERSION
