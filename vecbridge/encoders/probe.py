"""Load-time probes: does a model produce something meaningful for a script, or noise?

Cheap (eight short texts, one forward pass per kind) and deterministic. Probes exist for Han, the
script the bundled English models most often meet; other scripts rely on the earlier evidence
(``vecbridge.encoders.coverage``).

- Learned sparse (SPLADE): the heaviest :data:`TOP_TERMS` terms of each probe query; the script
  passes when at least :data:`MIN_SCRIPT_SHARE` of them are written in it. An English masked-LM
  expands a Chinese question into English sub-words: noise.
- Dense: each probe pair (a question and its paraphrase) must be its own best match among the
  others, for at least :data:`MIN_MATCHED` of the pairs, and matched pairs must be more similar
  than mismatched ones by :data:`MIN_MARGIN` cosine. A model that maps every Chinese text to
  nearly the same vector fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from vecbridge.encoders.scripts import char_script

# Paraphrase pairs per script (same meaning, different wording and characters).
PROBE_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "Han": (  # no character shared within a pair: only meaning can match them
        ("怎样减肥？", "控制饮食和运动可以帮助降低体重"),
        ("笔记本电脑开不了怎么办？", "计算机无法启动的解决方法"),
        ("明天会下雨吗？", "首都今日气温与降水预报"),
        ("猫为什么爱睡觉？", "家养宠物喵星人每日休眠时长的原因"),
        ("如何学习英语？", "提高外文水平的方法"),
    ),
}
PROBED_SCRIPTS = tuple(PROBE_PAIRS)
TOP_TERMS = 10
MIN_SCRIPT_SHARE = 0.5
MIN_MATCHED = 0.75
MIN_MARGIN = 0.1


def term_share(terms: Sequence[str], script: str) -> float:
    """Share of ``terms`` (decoded vocabulary tokens) whose letters are all of ``script``."""
    if not terms:
        return 0.0

    def of_script(term: str) -> bool:
        found = [char_script(c) for c in term.removeprefix("##").lstrip("▁")]
        letters = [s for s in found if s is not None]
        return bool(letters) and all(s == script for s in letters)

    return sum(map(of_script, terms)) / len(terms)


def pair_separation(queries: np.ndarray, passages: np.ndarray) -> tuple[float, float]:
    """(share of pairs whose partner is the best match, mean matched - mean mismatched cosine)."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    p = passages / np.maximum(np.linalg.norm(passages, axis=1, keepdims=True), 1e-12)
    sims = q @ p.T
    n = len(sims)
    matched = float(np.mean(np.argmax(sims, axis=1) == np.arange(n)))
    off = (sims.sum() - np.trace(sims)) / max(n * n - n, 1)
    return matched, float(np.trace(sims) / n - off)


def probe_script(encoder: Any, script: str) -> Optional[tuple[bool, str]]:
    """(passes, what was measured) for ``script``, or None when the encoder cannot be probed."""
    pairs = PROBE_PAIRS.get(script)
    if not pairs:
        return None
    queries = [a for a, _ in pairs]
    passages = [b for _, b in pairs]
    if callable(getattr(encoder, "decode", None)):  # learned sparse with a vocabulary
        vectors = encoder.encode_queries(queries).sparse or []
        terms = [t for v in vectors for t, _ in encoder.decode(v, top=TOP_TERMS)]
        share = term_share(terms, script)
        return share >= MIN_SCRIPT_SHARE, f"SPLADE probe: {share:.0%} of top-{TOP_TERMS} expansion terms are {script}"
    if getattr(encoder, "dense_dim", None):
        q = encoder.encode_queries(queries).dense
        p = encoder.encode_documents(passages).dense
        if q is None or p is None:
            return None
        matched, margin = pair_separation(np.asarray(q, np.float64), np.asarray(p, np.float64))
        ok = matched >= MIN_MATCHED and margin >= MIN_MARGIN
        return ok, f"dense probe: {matched:.0%} {script} pairs matched, margin {margin:.2f}"
    return None


def probe_failures(encoder: Any, scripts: Sequence[str]) -> tuple[list[str], str]:
    """The scripts among ``scripts`` whose probe fails, and what was measured."""
    failed, notes = [], []
    for script in scripts:
        result = probe_script(encoder, script)
        if result is None:
            continue
        ok, note = result
        notes.append(note)
        if not ok:
            failed.append(script)
    return failed, "; ".join(notes)
