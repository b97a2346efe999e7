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
from typing import Any, Optional, Union

import numpy as np

from vecbridge.encoders.base import OutputKind, encode_in_batches
from vecbridge.encoders.scripts import WORD_ANALYZER_SCRIPTS
from vecbridge.encoders.tokenize import DEFAULT_ANALYZER, Analyzer, AnalyzerLike, get_analyzer
from vecbridge.schemas import ConfigurationError, Embeddings, SparseVector

FORMAT_VERSION = 1
DEFAULT_K1, DEFAULT_B = 1.2, 0.75
"""Lucene's defaults, which Milvus's full-text BM25 also uses (so ``bm25`` and Milvus ``text`` agree)."""
_LEGACY_ANALYZER = "encoders.tokenize.analyze"  # files written before analyzers were recorded: ``plain``
_PARAMS_FILE = "bm25_params.json"
_DF_FILE = "df.npy"


def bm25_options(model: str) -> Optional[dict[str, Any]]:
    """``BM25Encoder`` options named by a model string, or ``None`` if ``model`` is not BM25.

    ``"bm25"`` -> ``{}`` (defaults); ``"bm25:analyzer=plain,k1=0.9,b=0.4"`` -> those options;
    ``chinese=search`` switches the analyzer to jieba's search mode.

    >>> bm25_options("bm25:k1=0.9,b=0.4,analyzer=english")
    {'k1': 0.9, 'b': 0.4, 'analyzer': 'english'}
    """
    head, sep, tail = model.partition(":")
    if head != "bm25":
        return None
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in tail.split(","))) if sep else ():
        key, eq, value = part.partition("=")
        if not eq or key not in ("analyzer", "k1", "b", "chinese"):
            raise ConfigurationError(
                f"BM25 model {model!r}: expected bm25[:analyzer=NAME,k1=X,b=Y,chinese=default|search], got {part!r}"
            )
        try:
            options[key] = value if key in ("analyzer", "chinese") else float(value)
        except ValueError:
            raise ConfigurationError(f"BM25 model {model!r}: {key}={value!r} is not a number") from None
    if "chinese" in options:
        base = get_analyzer(options.get("analyzer", DEFAULT_ANALYZER)).to_dict()
        options["analyzer"] = {**base, "chinese": options.pop("chinese")}
    return options


class NotFittedError(ConfigurationError):
    """The BM25 encoder has no corpus statistics yet: call ``fit`` or ``BM25Encoder.load``."""


def lucene_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Lucene's idf ``log(1 + (N - n + 0.5) / (n + 0.5))`` (always > 0)."""
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def canonical_vector(ids: np.ndarray, weights: np.ndarray) -> SparseVector:
    """The ``SparseVector`` of unique vocabulary ids and their positive, finite weights (what BM25 makes:
    idf > 0, counts >= 1), sorted by id, without ``SparseVector``'s validation (a query's cost, tested equal)."""
    order = np.argsort(ids, kind="stable")
    return SparseVector.model_construct(
        indices=np.ascontiguousarray(ids[order], dtype=np.uint32),
        values=np.ascontiguousarray(weights[order], dtype=np.float32),
    )


def bm25_tf_weights(tf: np.ndarray, doc_len: int, avgdl: float, k1: float, b: float) -> np.ndarray:
    """The term-frequency part ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``."""
    tf = np.asarray(tf, dtype=np.float64)
    return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doc_len / avgdl))


def check_bm25_options(k1: float, b: float, max_length: Optional[int], batch_size: int) -> None:
    """The constructor checks shared by ``BM25Encoder`` and ``LiveBM25Encoder``."""
    if not k1 >= 0:
        raise ConfigurationError(f"k1 must be >= 0, got {k1!r}")
    if not 0 <= b <= 1:
        raise ConfigurationError(f"b must lie in [0, 1], got {b!r}")
    if max_length is not None and max_length <= 0:
        raise ConfigurationError(f"max_length must be > 0 or None, got {max_length!r}")
    if batch_size <= 0:
        raise ConfigurationError(f"batch_size must be > 0, got {batch_size!r}")


class BM25Encoder:
    """BM25 over a vocabulary fitted on a corpus; terms unseen at fit time are dropped when encoding.

    ``analyzer``: a name in ``vecbridge.encoders.tokenize.ANALYZERS`` (default ``english``: Lucene stop words
    and Snowball stemming), an ``Analyzer`` or its settings dict; it is saved with the statistics.
    ``tokenizer``: any callable instead (not saved: pass it again to ``load``). ``max_length`` caps
    the terms read per text (``None``: no cap).

    Encoding only reads the fitted statistics (and jieba, which is thread-safe), so threads may share a
    fitted encoder; ``fit`` / ``load`` must not run while it encodes.
    """

    outputs = frozenset({OutputKind.SPARSE})
    dense_dim: Optional[int] = None

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
        self.tokenizer: Callable[[str], list[str]] = tokenizer or self.analyzer  # type: ignore[assignment]  # one of the two is set
        self.custom_tokenizer = tokenizer is not None
        # Scripts the analyzer handles (encoders.scripts); a custom tokenizer's coverage is unknown: all.
        self.scripts = None if self.custom_tokenizer else WORD_ANALYZER_SCRIPTS
        self.max_length, self.batch_size, self.progress, self.name = max_length, batch_size, progress, name
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.n_docs = 0
        self.avgdl = 0.0
        self._idf = np.zeros(0, dtype=np.float64)

    @property
    def analyzer_id(self) -> str:
        """The analyzer's settings as compact JSON (``"custom"`` for a ``tokenizer`` callable)."""
        return "custom" if self.analyzer is None else json.dumps(self.analyzer.to_dict(), sort_keys=True)

    # ---- statistics ----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.n_docs > 0

    @property
    def sparse_vocab_size(self) -> Optional[int]:
        """Vocabulary size after ``fit`` (ids are ``0 .. size-1``); ``None`` before."""
        return len(self.vocab) if self.fitted else None

    def tokenize(self, text: str) -> list[str]:
        """The terms the encoder reads from ``text`` (analyzer output, capped at ``max_length``)."""
        terms = self.tokenizer(text)
        return terms if self.max_length is None else terms[: self.max_length]

    def fit(self, corpus_texts: Sequence[str]) -> BM25Encoder:
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

    def _set_stats(self, terms: list[str], df: Union[Sequence[int], np.ndarray], n_docs: int, avgdl: float) -> None:
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.df = np.asarray(df, dtype=np.int64)
        self.n_docs, self.avgdl = int(n_docs), float(avgdl)
        self._idf = lucene_idf(self.df, self.n_docs)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(
                f"BM25Encoder {self.name!r} is not fitted: call fit(corpus_texts) or BM25Encoder.load(path)"
            )

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
        return canonical_vector(ids, bm25_tf_weights(tf, len(terms), self.avgdl, self.k1, self.b))

    def _query_vector(self, terms: list[str]) -> SparseVector:
        ids, count = self._term_counts(terms)
        return canonical_vector(ids, self._idf[ids] * count)

    def decode(self, vector: SparseVector, top: Optional[int] = None) -> list[tuple[str, float]]:
        """``(term, weight)`` pairs of a vector, heaviest first (``top`` of them if given)."""
        terms = list(self.vocab)
        order = np.argsort(-vector.values, kind="stable")[:top]
        return [(terms[int(vector.indices[i])], float(vector.values[i])) for i in order]

    # ---- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted statistics and parameters as a JSON-able dict (vocab in id order, ``df`` aligned)."""
        self._require_fitted()
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "k1": self.k1,
            "b": self.b,
            "n_docs": self.n_docs,
            "avgdl": self.avgdl,
            "max_length": self.max_length,
            "analyzer": "custom" if self.analyzer is None else self.analyzer.to_dict(),
            "vocab": list(self.vocab),
            "df": self.df.tolist(),
        }

    @classmethod
    def from_dict(
        cls,
        params: dict[str, Any],
        *,
        tokenizer: Optional[Callable[[str], list[str]]] = None,
        batch_size: int = 1024,
        progress: bool = False,
        source: str = "BM25 statistics",
    ) -> BM25Encoder:
        """The encoder :meth:`to_dict` described; ``source`` names where ``params`` came from in errors."""
        if params.get("format_version") != FORMAT_VERSION:
            raise ConfigurationError(
                f"{source}: format_version={params.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        saved = params["analyzer"]
        if saved == "custom" and tokenizer is None:
            raise ConfigurationError(f"{source} was fitted with a custom tokenizer: pass tokenizer= to load")
        analyzer = "plain" if saved in ("custom", _LEGACY_ANALYZER) else saved
        df = np.asarray(params["df"], dtype=np.int64)
        if df.shape != (len(params["vocab"]),):
            raise ConfigurationError(f"{source}: df shape {df.shape} does not match vocab size {len(params['vocab'])}")
        encoder = cls(
            params["k1"],
            params["b"],
            analyzer=analyzer,
            tokenizer=tokenizer,
            max_length=params["max_length"],
            batch_size=batch_size,
            progress=progress,
            name=params["name"],
        )
        encoder._set_stats(params["vocab"], df, params["n_docs"], params["avgdl"])
        return encoder

    def save(self, path: str | Path) -> Path:
        """Write ``bm25_params.json`` (params, version, vocab in id order) and ``df.npy`` to a folder."""
        params = self.to_dict()
        df = params.pop("df")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _PARAMS_FILE).write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
        np.save(folder / _DF_FILE, np.asarray(df, dtype=np.int64))
        return folder

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        tokenizer: Optional[Callable[[str], list[str]]] = None,
        batch_size: int = 1024,
        progress: bool = False,
    ) -> BM25Encoder:
        """Read a folder written by :meth:`save`; a custom analyzer must be passed again as ``tokenizer``."""
        folder = Path(path)
        params_file = folder / _PARAMS_FILE
        if not params_file.is_file():
            raise ConfigurationError(f"no BM25 index in {str(folder)!r}: {_PARAMS_FILE} is missing")
        params = json.loads(params_file.read_text(encoding="utf-8"))
        params["df"] = np.load(folder / _DF_FILE)
        return cls.from_dict(
            params, tokenizer=tokenizer, batch_size=batch_size, progress=progress, source=str(params_file)
        )
