"""BM25 analyzers: NFKC + lowercase, a word regex, jieba for Chinese runs, stop words, Snowball stemming.

Two named analyzers (``ANALYZERS``); any other combination is an ``Analyzer(...)`` of its own:

- ``english`` (the default of new BM25 encoders): Lucene's English stop words (the set of bm25s
  ``"en"``, Lucene ``EnglishAnalyzer`` and Milvus ``_english_``) plus common Chinese function words,
  Snowball English stemming (PyStemmer, as bm25s and Lucene's ``english`` analyzer do).
- ``plain``: the analyzer of vecbridge <= 0.x BM25 files (no stemming, a small mixed stop list);
  encoders saved before analyzers were recorded load with it.

Mixed text is analyzed per script: a run of Han characters goes to jieba (``chinese="search"``:
jieba's search mode, which adds the shorter words inside long ones), any other word is lowercased
and, if the analyzer has a stemmer, stemmed. An analyzer's settings are plain data
(``Analyzer.to_dict``), saved with a BM25 encoder so that a loaded encoder analyzes identically.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Literal, Optional, Union

from vecbridge.schemas import ConfigurationError

# Han ideographs (CJK Unified Ideographs, Extension A, compatibility, Extension B).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
# A run of Han characters, or a word of letters/digits that contains no Han character.
_TOKEN_RE = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>(?:(?![{_HAN}])[^\W_])+)")

LUCENE_ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there
    these they this to was will with""".split()
)
"""Lucene's English stop set (``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``; bm25s ``"en"``; Milvus ``_english_``)."""

ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """a an and are as at be but by for from has have if in into is it its of on or s such t that the
    their then there these they this to was were will with""".split()
)
"""The ``plain`` analyzer's English stop words: Lucene's set without "no"/"not", plus "from", "has",
"have", "its", "were" and the "s"/"t" of contractions."""

CHINESE_STOP_WORDS: frozenset[str] = frozenset("的 了 是 在 和 与 及 或 也 都 而 就 把 被 对 吗 呢 吧 啊 之".split())
"""Common Chinese function words (particles and conjunctions)."""

STOP_WORDS: frozenset[str] = ENGLISH_STOP_WORDS | CHINESE_STOP_WORDS
"""The ``plain`` analyzer's stop words."""

STOP_WORD_SETS: dict[str, frozenset[str]] = {
    "lucene": LUCENE_ENGLISH_STOP_WORDS | CHINESE_STOP_WORDS,
    "plain": STOP_WORDS,
    "none": frozenset(),
}
"""Named stop-word sets an ``Analyzer`` may use (Chinese function words are in both non-empty sets)."""


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """jieba, imported on first Chinese text, with its dictionary-loading log lines silenced."""
    with warnings.catch_warnings():  # jieba 0.42 imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _segment_han(run: str, search_mode: bool = False) -> list[str]:
    """jieba words of a Han run, without whitespace or punctuation tokens."""
    jieba = _jieba()
    words = jieba.lcut_for_search(run) if search_mode else jieba.lcut(run)
    return [w for w in words if any(ch.isalnum() for ch in w)]


_STEMMERS = threading.local()  # PyStemmer objects are not safe to share between threads


def _stemmer(language: str) -> Any:
    """This thread's PyStemmer ``Stemmer`` for ``language`` (it caches stems internally)."""
    cache = getattr(_STEMMERS, "by_language", None)
    if cache is None:
        cache = _STEMMERS.by_language = {}
    if language not in cache:
        cache[language] = _new_stemmer(language)
    return cache[language]


def _new_stemmer(language: str) -> Any:
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - PyStemmer is a base dependency
        raise ConfigurationError("stemming needs PyStemmer: pip install PyStemmer") from exc
    if language not in Stemmer.algorithms():
        raise ConfigurationError(
            f"stemmer {language!r} is not a Snowball language; choose one of {Stemmer.algorithms()}"
        )
    return Stemmer.Stemmer(language)


@dataclass(frozen=True)
class Analyzer:
    """Text -> BM25 terms. Callable; ``to_dict`` / ``from_dict`` round-trip its settings.

    - ``stemmer``: a Snowball language for PyStemmer (``"english"``), or ``None`` for no stemming.
    - ``stop_words``: a name in ``STOP_WORD_SETS``; stop words are removed before stemming.
    - ``chinese``: ``"default"`` (jieba's accurate mode) or ``"search"`` (jieba's search mode).
    - ``min_token_length``: shorter non-Han words are dropped (bm25s and scikit-learn use 2).
    """

    stemmer: Optional[str] = "english"
    stop_words: str = "lucene"
    chinese: Literal["default", "search"] = "default"
    min_token_length: int = 1

    def __post_init__(self) -> None:
        if self.stop_words not in STOP_WORD_SETS:
            raise ConfigurationError(f"stop_words={self.stop_words!r}; choose one of {sorted(STOP_WORD_SETS)}")
        if self.chinese not in ("default", "search"):
            raise ConfigurationError(f"chinese={self.chinese!r}; choose 'default' or 'search'")
        if (
            isinstance(self.min_token_length, bool)
            or not isinstance(self.min_token_length, int)
            or self.min_token_length < 1
        ):
            raise ConfigurationError(f"min_token_length must be an integer >= 1, got {self.min_token_length!r}")
        if self.stemmer is not None:
            _stemmer(self.stemmer)  # fail now, naming the valid languages

    @property
    def name(self) -> str:
        """The ``ANALYZERS`` name of these settings, or ``"custom"``."""
        return next((n for n, a in ANALYZERS.items() if a == self), "custom")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analyzer:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"unknown analyzer settings {unknown}; known: {sorted(known)}")
        return cls(**data)

    def __call__(self, text: str) -> list[str]:
        """Terms of ``text`` in order (see the module docstring)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        stop_words = STOP_WORD_SETS[self.stop_words]
        stem = _stemmer(self.stemmer).stemWord if self.stemmer is not None else None
        search = self.chinese == "search"
        terms: list[str] = []
        for match in _TOKEN_RE.finditer(unicodedata.normalize("NFKC", text).lower()):
            han = match.group("han")
            if han:
                terms.extend(w for w in _segment_han(han, search) if w not in stop_words)
                continue
            word = match.group("word")
            if len(word) < self.min_token_length or word in stop_words:
                continue
            terms.append(stem(word) if stem is not None else word)
        return terms


ANALYZERS: dict[str, Analyzer] = {
    "english": Analyzer(stemmer="english", stop_words="lucene"),
    "plain": Analyzer(stemmer=None, stop_words="plain"),
}
DEFAULT_ANALYZER = "english"

AnalyzerLike = Union[str, Analyzer, dict]


def get_analyzer(value: AnalyzerLike) -> Analyzer:
    """An ``Analyzer`` from a name in ``ANALYZERS``, a settings dict, or an ``Analyzer``."""
    if isinstance(value, Analyzer):
        return value
    if isinstance(value, dict):
        return Analyzer.from_dict(value)
    if isinstance(value, str) and value in ANALYZERS:
        return ANALYZERS[value]
    raise ConfigurationError(f"analyzer {value!r}: choose one of {sorted(ANALYZERS)}, or pass an Analyzer")


def analyze(text: str, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Terms of ``text`` with the ``plain`` analyzer: lowercase words and jieba-segmented Chinese
    words, ``stop_words`` dropped, no stemming.

    >>> analyze("The cat sat on 糖尿病的原因")
    ['cat', 'sat', '糖尿病', '原因']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    normalized = unicodedata.normalize("NFKC", text).lower()
    terms: list[str] = []
    for match in _TOKEN_RE.finditer(normalized):
        words = _segment_han(match.group("han")) if match.group("han") else [match.group("word")]
        terms.extend(w for w in words if w not in stop_words)
    return terms
