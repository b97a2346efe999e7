"""The BM25 analyzer: NFKC + lowercase, a simple word regex, jieba for Chinese runs, a small stop list."""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from functools import lru_cache
from typing import Any

# Han ideographs (CJK Unified Ideographs, Extension A, compatibility, Extension B).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
# A run of Han characters, or a word of letters/digits that contains no Han character.
_TOKEN_RE = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>(?:(?![{_HAN}])[^\W_])+)")

ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """a an and are as at be but by for from has have if in into is it its of on or s such t that the
    their then there these they this to was were will with""".split()
)
"""Lucene's classic English stop set plus "from", "has", "have", "its" and the "s"/"t" of contractions."""

CHINESE_STOP_WORDS: frozenset[str] = frozenset("的 了 是 在 和 与 及 或 也 都 而 就 把 被 对 吗 呢 吧 啊 之".split())
"""Common Chinese function words (particles and conjunctions)."""

STOP_WORDS: frozenset[str] = ENGLISH_STOP_WORDS | CHINESE_STOP_WORDS


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """jieba, imported on first Chinese text, with its dictionary-loading log lines silenced."""
    with warnings.catch_warnings():  # jieba 0.42 imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _segment_han(run: str) -> list[str]:
    """jieba words of a Han run, without whitespace or punctuation tokens."""
    return [w for w in _jieba().lcut(run) if any(ch.isalnum() for ch in w)]


def analyze(text: str, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Terms of ``text`` in order: lowercase words and jieba-segmented Chinese words, stop words dropped.

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
