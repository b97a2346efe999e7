"""Classic BM25 as sparse vectors: document weights hold the tf part, query weights the idf part.

``query_vector.dot(document_vector)`` equals the BM25 score
``sum_t idf(t) * qtf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * dl / avgdl))``
with Lucene's idf ``log(1 + (N - n + 0.5) / (n + 0.5))``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from encoders.base import OutputKind, encode_in_batches
from encoders.scripts import WORD_ANALYZER_SCRIPTS
from encoders.tokenize import analyze
from schemas import ConfigurationError, Embeddings, SparseVector

FORMAT_VERSION = 1
_PARAMS_FILE = "bm25_params.json"
_DF_FILE = "df.npy"


class NotFittedError(ConfigurationError):
    """The BM25 encoder has no corpus statistics yet: call ``fit`` or ``BM25Encoder.load``."""


def lucene_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Lucene's idf ``log(1 + (N - n + 0.5) / (n + 0.5))`` (always > 0)."""
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def bm25_tf_weights(tf: np.ndarray, doc_len: int, avgdl: float, k1: float, b: float) -> np.ndarray:
    """The term-frequency part ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``."""
    tf = np.asarray(tf, dtype=np.float64)
    return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doc_len / avgdl))


class BM25Encoder:
    """BM25 over a vocabulary fitted on a corpus; terms unseen at fit time are dropped when encoding.

    ``tokenizer`` defaults to :func:`encoders.tokenize.analyze`; ``max_length`` caps the terms
    read per text (``None``: no cap).
    """

    outputs = frozenset({OutputKind.SPARSE})
    dense_dim: Optional[int] = None

    def __init__(
        self,
        k1: float = 1.2,
        b: float = 0.75,
        *,
        tokenizer: Optional[Callable[[str], list[str]]] = None,
        max_length: Optional[int] = None,
        batch_size: int = 1024,
        progress: bool = False,
        name: str = "bm25",
    ) -> None:
        if not k1 >= 0:
            raise ConfigurationError(f"k1 must be >= 0, got {k1!r}")
        if not 0 <= b <= 1:
            raise ConfigurationError(f"b must lie in [0, 1], got {b!r}")
        if max_length is not None and max_length <= 0:
            raise ConfigurationError(f"max_length must be > 0 or None, got {max_length!r}")
        if batch_size <= 0:
            raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")
        self.k1, self.b = float(k1), float(b)
        self.tokenizer = tokenizer or analyze
        self.custom_tokenizer = tokenizer is not None
        # Scripts the analyzer handles (encoders.scripts); a custom tokenizer's coverage is unknown: all.
        self.scripts = None if self.custom_tokenizer else WORD_ANALYZER_SCRIPTS
        self.max_length, self.batch_size, self.progress, self.name = max_length, batch_size, progress, name
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.n_docs = 0
        self.avgdl = 0.0
        self._idf = np.zeros(0, dtype=np.float64)

    # ---- statistics ----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.n_docs > 0

    @property
    def sparse_vocab_size(self) -> Optional[int]:  # type: ignore[override]
        """Vocabulary size after ``fit`` (ids are ``0 .. size-1``); ``None`` before."""
        return len(self.vocab) if self.fitted else None

    def tokenize(self, text: str) -> list[str]:
        """The terms the encoder reads from ``text`` (analyzer output, capped at ``max_length``)."""
        terms = self.tokenizer(text)
        return terms if self.max_length is None else terms[: self.max_length]

    def fit(self, corpus_texts: Sequence[str]) -> "BM25Encoder":
        """Build the vocabulary (terms sorted, id = rank) and document frequencies from a corpus."""
        if isinstance(corpus_texts, str) or not corpus_texts:
            raise ConfigurationError("fit needs a non-empty sequence of texts (corpus_texts)")
        counts: Counter[str] = Counter()
        total = 0
        for i, text in enumerate(corpus_texts):
            if not isinstance(text, str):
                raise TypeError(f"corpus_texts[{i}] must be str, got {type(text).__name__}")
            terms = self.tokenize(text)
            total += len(terms)
            counts.update(set(terms))
        if total == 0:
            raise ConfigurationError("fit: the corpus has no terms after analysis (all empty or stop words)")
        terms_sorted = sorted(counts)
        self._set_stats(terms_sorted, [counts[t] for t in terms_sorted], len(corpus_texts), total / len(corpus_texts))
        return self

    def _set_stats(self, terms: list[str], df: Sequence[int], n_docs: int, avgdl: float) -> None:
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.df = np.asarray(df, dtype=np.int64)
        self.n_docs, self.avgdl = int(n_docs), float(avgdl)
        self._idf = lucene_idf(self.df, self.n_docs)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(f"BM25Encoder {self.name!r} is not fitted: call fit(corpus_texts) or BM25Encoder.load(path)")

    # ---- encoding ------------------------------------------------------------------------
    def encode_documents(self, texts: Sequence[str]) -> Embeddings:
        """Document vectors: the BM25 tf part per term (length-normalized with the fitted avgdl)."""
        return self._encode(texts, self._document_vector, "bm25 documents")

    def encode_queries(self, texts: Sequence[str]) -> Embeddings:
        """Query vectors: ``idf * count`` per term of the query found in the vocabulary."""
        return self._encode(texts, self._query_vector, "bm25 queries")

    def _encode(self, texts: Sequence[str], vectorize: Callable[[list[str]], SparseVector], what: str) -> Embeddings:
        self._require_fitted()
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not a single string")
        cache = {t: self.tokenize(t) for t in texts if isinstance(t, str)}
        lengths = [len(cache.get(t, ())) for t in texts]

        def encode_batch(batch: list[str]) -> Embeddings:
            return Embeddings(sparse=[vectorize(cache[t]) for t in batch])

        return encode_in_batches(texts, lengths, self.batch_size, encode_batch, self.progress, what)

    def _term_counts(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.vocab[t] for t in terms if t in self.vocab)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        return ids, np.fromiter(counts.values(), dtype=np.float64, count=len(counts))

    def _document_vector(self, terms: list[str]) -> SparseVector:
        ids, tf = self._term_counts(terms)
        return SparseVector(indices=ids, values=bm25_tf_weights(tf, len(terms), self.avgdl, self.k1, self.b))

    def _query_vector(self, terms: list[str]) -> SparseVector:
        ids, count = self._term_counts(terms)
        return SparseVector(indices=ids, values=self._idf[ids] * count)

    def decode(self, vector: SparseVector, top: Optional[int] = None) -> list[tuple[str, float]]:
        """``(term, weight)`` pairs of a vector, heaviest first (``top`` of them if given)."""
        terms = list(self.vocab)
        order = np.argsort(-vector.values, kind="stable")[:top]
        return [(terms[int(vector.indices[i])], float(vector.values[i])) for i in order]

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``bm25_params.json`` (params, version, vocab in id order) and ``df.npy`` to a folder."""
        self._require_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        params = {
            "format_version": FORMAT_VERSION, "name": self.name, "k1": self.k1, "b": self.b,
            "n_docs": self.n_docs, "avgdl": self.avgdl, "max_length": self.max_length,
            "analyzer": "custom" if self.custom_tokenizer else "encoders.tokenize.analyze",
            "vocab": list(self.vocab),
        }
        (folder / _PARAMS_FILE).write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
        np.save(folder / _DF_FILE, self.df)
        return folder

    @classmethod
    def load(
        cls, path: str | Path, *, tokenizer: Optional[Callable[[str], list[str]]] = None,
        batch_size: int = 1024, progress: bool = False,
    ) -> "BM25Encoder":
        """Read a folder written by :meth:`save`; a custom analyzer must be passed again as ``tokenizer``."""
        folder = Path(path)
        params_file = folder / _PARAMS_FILE
        if not params_file.is_file():
            raise ConfigurationError(f"no BM25 index in {str(folder)!r}: {_PARAMS_FILE} is missing")
        params = json.loads(params_file.read_text(encoding="utf-8"))
        if params.get("format_version") != FORMAT_VERSION:
            raise ConfigurationError(
                f"{params_file}: format_version={params.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        if params["analyzer"] == "custom" and tokenizer is None:
            raise ConfigurationError(f"{params_file} was fitted with a custom tokenizer: pass tokenizer= to load")
        df = np.load(folder / _DF_FILE)
        if df.shape != (len(params["vocab"]),):
            raise ConfigurationError(f"{folder / _DF_FILE}: shape {df.shape} does not match vocab size {len(params['vocab'])}")
        encoder = cls(
            params["k1"], params["b"], tokenizer=tokenizer, max_length=params["max_length"],
            batch_size=batch_size, progress=progress, name=params["name"],
        )
        encoder._set_stats(params["vocab"], df, params["n_docs"], params["avgdl"])
        return encoder
