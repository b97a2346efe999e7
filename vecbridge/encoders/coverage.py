"""Where an encoder's language coverage comes from, in order of evidence (pure functions + one probe).

1. ``user``: ``load_encoder(..., scripts=[...])`` (or ``--scripts``) overrides everything;
2. ``alias``: the languages a known model was trained on (``loading.MODEL_LANGUAGES``);
3. ``card``: the model card's ``language:`` tags;
4. ``tokenizer``: the script composition of the vocabulary (:func:`vocab_scripts`): a script is
   covered when the vocabulary has words in it (:data:`MIN_WORD_TOKENS` multi-letter tokens), or,
   for Han, enough single characters to write Chinese (:data:`MIN_HAN_CHARS`). An English
   WordPiece vocabulary (bert-base-uncased: 27,533 Latin words, 244 Han characters) covers Latin
   only, although it maps Chinese to single characters;
5. ``probe``: a measured check at load time (``vecbridge.encoders.probe``) of the scripts the
   tokenizer left open: a model that outputs noise for them does not cover them;
6. ``unknown``: no evidence at all: every script (nothing is excluded on a guess).

The result keeps its ``source`` and a one-line ``detail`` so that ``--explain`` can say why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vecbridge.encoders.scripts import (
    KNOWN_SCRIPTS,
    Scripts,
    char_script,
    model_card_languages,
    parse_scripts,
    scripts_for_languages,
)

SOURCES = ("user", "alias", "card", "tokenizer", "probe", "analyzer", "model", "store", "unknown")
MIN_WORD_TOKENS = 50  # multi-letter tokens of a script that make a vocabulary cover it
MIN_HAN_CHARS = 2500  # single Han characters: about what everyday Chinese text uses
# Vocabularies known by model type and size, with the languages they were trained on.
KNOWN_VOCABULARIES: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {
    ("bert", 30522): ("English WordPiece (bert-base-uncased)", ("en",)),
    ("bert", 28996): ("English WordPiece (bert-base-cased)", ("en",)),
    ("distilbert", 30522): ("English WordPiece (bert-base-uncased)", ("en",)),
    ("roberta", 50265): ("English byte-level BPE (roberta-base)", ("en",)),
    ("mpnet", 30527): ("English WordPiece (mpnet-base)", ("en",)),
}


@dataclass(frozen=True)
class Coverage:
    """Scripts an encoder covers (``None``: every script), where that came from, and why."""

    scripts: Scripts
    source: str
    detail: str = ""

    def describe(self) -> str:
        scripts = "every script" if self.scripts is None else "+".join(sorted(self.scripts)) or "no script"
        return f"{scripts} ({self.source}{': ' + self.detail if self.detail else ''})"


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet, reversed: token character -> byte."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    codes, extra = list(visible), 0
    for b in range(256):
        if b not in visible:
            visible.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(visible, codes, strict=True)}


def _token_text(token: str, byte_level: bool, decoder: dict[str, int]) -> str:
    if byte_level:
        raw = bytes(decoder[c] for c in token if c in decoder)
        return raw.decode("utf-8", errors="ignore")
    return token[2:] if token.startswith("##") else token.lstrip("▁")


def vocab_profile(tokens: Iterable[str]) -> tuple[Counter[str], Counter[str]]:
    """Per script: distinct multi-letter tokens and distinct single letters of a vocabulary
    (WordPiece ``##``, SentencePiece ``▁`` and byte-level BPE tokens decoded first)."""
    tokens = list(tokens)
    byte_level = sum(t.startswith("Ġ") for t in tokens) > 0.05 * max(len(tokens), 1)
    decoder = _byte_decoder() if byte_level else {}
    words: Counter[str] = Counter()
    letters: set[tuple[str, str]] = set()
    for token in tokens:
        text = _token_text(token, byte_level, decoder)
        found = [(s, c) for c in text if (s := char_script(c)) is not None]
        if len(found) == 1:
            letters.add(found[0])
        elif found:
            words[Counter(s for s, _ in found).most_common(1)[0][0]] += 1
    singles: Counter[str] = Counter(s for s, _ in letters)
    return words, singles


def vocab_scripts(tokens: Iterable[str]) -> Scripts:
    """Scripts a vocabulary covers (rule 4 of the module docstring); None for an empty vocabulary."""
    words, singles = vocab_profile(tokens)
    if not words and not singles:
        return None
    covered = {s for s, n in words.items() if n >= MIN_WORD_TOKENS}
    if singles["Han"] >= MIN_HAN_CHARS:
        covered.add("Han")
    if "Han" in covered and words["Hiragana"] + words["Katakana"] >= MIN_WORD_TOKENS:
        covered |= {"Hiragana", "Katakana"}
    return frozenset(covered)


def tokenizer_coverage(tokens: Sequence[str], model_type: Optional[str] = None) -> Optional[Coverage]:
    """Coverage from a vocabulary (and the config's ``model_type``); None when there is no vocabulary."""
    if not tokens:
        return None
    known = KNOWN_VOCABULARIES.get((str(model_type or ""), len(tokens)))
    scripts = vocab_scripts(tokens)
    words, singles = vocab_profile(tokens)
    counts = ", ".join(f"{s} {n}" for s, n in words.most_common(3))
    detail = f"vocabulary of {len(tokens)}: words {counts}; Han characters {singles['Han']}"
    if known is not None:
        name, languages = known
        scripts = scripts_for_languages(languages)
        detail = f"{name}; {detail}"
    return Coverage(scripts, "tokenizer", detail)


def _vocabulary(tokenizer: Any) -> list[str]:
    try:
        return list(tokenizer.get_vocab())
    except Exception:  # a tokenizer without a vocabulary (custom): no evidence
        return []


def _model_type(folder: Path) -> Optional[str]:
    config = Path(folder) / "config.json"
    try:
        return str(json.loads(config.read_text(encoding="utf-8")).get("model_type") or "") or None
    except (OSError, ValueError):
        return None


def static_coverage(
    model: str,
    folder: Path,
    tokenizer: Any = None,
    scripts: Optional[Sequence[str]] = None,
) -> Coverage:
    """Coverage from the evidence available without running the model (rules 1-4, then 6)."""
    from vecbridge.encoders.loading import MODEL_LANGUAGES

    if scripts is not None:
        return Coverage(parse_scripts(scripts), "user", "configured")
    if model in MODEL_LANGUAGES:
        languages = MODEL_LANGUAGES[model]
        return Coverage(scripts_for_languages(languages), "alias", f"{model}: languages {list(languages)}")
    tags = model_card_languages(folder)
    if tags:
        return Coverage(scripts_for_languages(tags), "card", f"language: {tags}")
    if tokenizer is not None:
        found = tokenizer_coverage(_vocabulary(tokenizer), _model_type(folder))
        if found is not None:
            return found
    return Coverage(None, "unknown", "no card tags and no vocabulary")


def open_scripts(coverage: Coverage, probed: Iterable[str]) -> list[str]:
    """Scripts among ``probed`` that a load-time probe should check: those the evidence so far
    admits, when it came from the tokenizer or from nothing (alias, card and user are trusted)."""
    if coverage.source not in ("tokenizer", "unknown"):
        return []
    return [s for s in probed if coverage.scripts is None or s in coverage.scripts]


def without(coverage: Coverage, failed: Sequence[str], detail: str) -> Coverage:
    """``coverage`` minus the scripts a probe found degenerate (source ``probe``)."""
    if not failed:
        return coverage
    base = KNOWN_SCRIPTS if coverage.scripts is None else coverage.scripts
    return Coverage(frozenset(base - set(failed)), "probe", f"{detail}; before: {coverage.describe()}")


def encoder_coverage(encoder: Any) -> Coverage:
    """An encoder's ``coverage`` if it records one, else its declared ``scripts`` (``None`` encoder:
    the store's own text search, every script)."""
    if encoder is None:
        return Coverage(None, "store", "the store's own text search")
    coverage = getattr(encoder, "coverage", None)
    if isinstance(coverage, Coverage) and coverage.scripts == getattr(encoder, "scripts", coverage.scripts):
        return coverage
    scripts = getattr(encoder, "scripts", None)
    return Coverage(scripts, "model", f"declared by {type(encoder).__name__}")


def runs_uncovered(encoder: Any) -> bool:
    """Whether a retriever on ``encoder`` still runs for a query that no selected retriever covers:
    the encoder's ``runs_uncovered`` attribute, True when it has none.

    Learned-sparse models (SPLADE) set it to False: on a language they were not trained on, their term
    expansions are noise (terms of other languages) that equal-weight fusion would vote with. A dense
    model's vector, BM25's terms and the store's text search degrade without inventing terms. BGE-M3's
    lexical weights are not expansions and its coverage is every script.
    """
    return bool(getattr(encoder, "runs_uncovered", True))
