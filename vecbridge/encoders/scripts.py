"""Writing systems (Unicode scripts): which ones a text uses, and which ones an encoder covers.

An encoder's coverage is a frozenset of script names, or ``None`` for "any script" (multilingual
models, and models whose languages are unknown: nothing is excluded on a guess). It comes from the
model's own metadata when it has some: the ``language:`` tags of the model card (the README front
matter of a sentence-transformers / Hugging Face folder), mapped to scripts with
:data:`LANGUAGE_SCRIPTS`; ``multilingual`` or a language this table does not know means ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from vecbridge.schemas import ConfigurationError

Scripts = Optional[frozenset[str]]  # None: every script

# Code point ranges of the scripts told apart here (letters only; digits and punctuation are "Common").
_RANGES: tuple[tuple[str, int, int], ...] = (
    ("Latin", 0x0041, 0x024F),
    ("Latin", 0x1E00, 0x1EFF),
    ("Latin", 0xFF21, 0xFF5A),
    ("Greek", 0x0370, 0x03FF),
    ("Cyrillic", 0x0400, 0x052F),
    ("Armenian", 0x0530, 0x058F),
    ("Hebrew", 0x0590, 0x05FF),
    ("Arabic", 0x0600, 0x06FF),
    ("Arabic", 0x0750, 0x077F),
    ("Devanagari", 0x0900, 0x097F),
    ("Bengali", 0x0980, 0x09FF),
    ("Tamil", 0x0B80, 0x0BFF),
    ("Thai", 0x0E00, 0x0E7F),
    ("Georgian", 0x10A0, 0x10FF),
    ("Hangul", 0x1100, 0x11FF),
    ("Hiragana", 0x3040, 0x309F),
    ("Katakana", 0x30A0, 0x30FF),
    ("Hangul", 0x3130, 0x318F),
    ("Han", 0x3400, 0x4DBF),
    ("Han", 0x4E00, 0x9FFF),
    ("Hangul", 0xAC00, 0xD7AF),
    ("Han", 0xF900, 0xFAFF),
    ("Han", 0x20000, 0x2A6DF),
)
KNOWN_SCRIPTS: frozenset[str] = frozenset(name for name, _, _ in _RANGES)

_LATIN = (
    "af ca cs cy da de en es et eu fi fr ga gl hr hu id is it lt lv ms mt nl no nb nn pl pt ro sk sl sq sv sw tl tr vi"
).split()
# ISO 639-1 language code -> the scripts its text is written in.
LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    **{code: frozenset({"Latin"}) for code in _LATIN},
    **{code: frozenset({"Cyrillic"}) for code in "be bg kk mk mn ru sr uk".split()},
    **{code: frozenset({"Arabic"}) for code in "ar fa ps ur".split()},
    "el": frozenset({"Greek"}),
    "he": frozenset({"Hebrew"}),
    "hy": frozenset({"Armenian"}),
    "ka": frozenset({"Georgian"}),
    "hi": frozenset({"Devanagari"}),
    "mr": frozenset({"Devanagari"}),
    "ne": frozenset({"Devanagari"}),
    "bn": frozenset({"Bengali"}),
    "ta": frozenset({"Tamil"}),
    "th": frozenset({"Thai"}),
    "zh": frozenset({"Han"}),
    "ja": frozenset({"Han", "Hiragana", "Katakana"}),
    "ko": frozenset({"Hangul", "Han"}),
}
MULTILINGUAL_TAGS = frozenset({"multilingual", "mul"})

# What vecbridge's BM25 analyzer tokenizes (encoders/tokenize.py): letter runs split at non-letters,
# which fits every script that separates words with spaces, plus Han runs segmented with jieba.
# Scripts written without spaces (Thai, Japanese kana) come out as one term per run: not covered.
WORD_ANALYZER_SCRIPTS: frozenset[str] = KNOWN_SCRIPTS - {"Thai", "Hiragana", "Katakana"}


def char_script(ch: str) -> Optional[str]:
    """The script of one character, or None for digits, punctuation, symbols and unlisted scripts."""
    code = ord(ch)
    for name, low, high in _RANGES:
        if low <= code <= high:
            return name if ch.isalpha() else None
    return None


def script_counts(text: str) -> Counter[str]:
    """Letters per script in ``text`` (NFKC-normalized first)."""
    if text.isascii():  # fast path for the common case; NFKC leaves ASCII as it is
        letters = sum(map(str.isalpha, text))
        return Counter({"Latin": letters} if letters else {})
    return Counter(name for name in map(char_script, unicodedata.normalize("NFKC", text)) if name is not None)


def text_scripts(text: str, min_share: float = 0.0) -> frozenset[str]:
    """The scripts whose letters make up more than ``min_share`` of the letters of ``text``
    (0: every script that occurs at all)."""
    counts = script_counts(text)
    total = sum(counts.values())
    return frozenset(name for name, n in counts.items() if n > min_share * total)


def scripts_for_languages(languages: Iterable[str]) -> Scripts:
    """Scripts of ISO 639-1 language tags (``en``, ``zh-cn`` -> ``zh``); None when any tag means
    multilingual or is unknown here (coverage cannot be narrowed safely), or when there are none."""
    tags = [str(t).strip().lower() for t in languages if str(t).strip()]
    if not tags:
        return None
    scripts: set[str] = set()
    for tag in tags:
        base = re.split(r"[-_]", tag)[0]
        if tag in MULTILINGUAL_TAGS or base not in LANGUAGE_SCRIPTS:
            return None
        scripts |= LANGUAGE_SCRIPTS[base]
    return frozenset(scripts)


def parse_scripts(value: Iterable[str]) -> Scripts:
    """Configured coverage: script names (``Latin``, ``Han``, ...) and/or language codes; ``all`` -> None."""
    items = [str(v).strip() for v in value if str(v).strip()]
    if not items or any(v.lower() in ("all", "any", *MULTILINGUAL_TAGS) for v in items):
        return None
    by_name = {s.lower(): s for s in KNOWN_SCRIPTS}
    scripts: set[str] = set()
    for item in items:
        if item.lower() in by_name:
            scripts.add(by_name[item.lower()])
        elif item.lower() in LANGUAGE_SCRIPTS:
            scripts |= LANGUAGE_SCRIPTS[item.lower()]
        else:
            raise ConfigurationError(
                f"scripts: {item!r} is neither a script ({sorted(KNOWN_SCRIPTS)}) nor a known language code"
            )
    return frozenset(scripts)


def model_card_languages(folder: Path) -> list[str]:
    """The ``language:`` tags of ``folder/README.md``'s YAML front matter (empty when there are none)."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    end = text.find("\n---", 3)
    if end < 0:
        return []
    import yaml

    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError:
        return []
    value = meta.get("language") if isinstance(meta, dict) else None
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def folder_scripts(folder: Path) -> Scripts:
    """Coverage of a model folder from its model card (None when the card names no language)."""
    return scripts_for_languages(model_card_languages(folder))


def encoder_scripts(encoder: object) -> Scripts:
    """An encoder's declared coverage: its ``scripts`` attribute (None or absent: any script)."""
    return getattr(encoder, "scripts", None)
