"""``search(..., explain=True)``: how each retriever took part in a query, attached to every hit.

Pure functions over what the search already computed: the retrievers the request selected, the
language rule's decision (``vecbridge.languages``, coverage and where it came from:
``vecbridge.encoders.coverage``), the agreement guard's overlaps and weights (``vecbridge.fusion``)
and each hit's ranks and scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from vecbridge import languages
from vecbridge.encoders.coverage import Coverage
from vecbridge.schemas import Hit, RetrieverExplain


def explain_hit(
    hit: Hit,
    query: str,
    selected: Sequence[str],
    configured: Mapping[str, float],
    coverage: Mapping[str, Coverage],
    weights: Mapping[str, float],
    overlaps: Optional[Mapping[str, int]] = None,
    top_n: Optional[int] = None,
) -> dict[str, RetrieverExplain]:
    """Per retriever of ``selected`` (in order): ``RetrieverExplain`` for ``hit``.

    ``weights``: the weights the retrievers that ran had in the fusion (absent: it did not run);
    ``overlaps``: the agreement guard's per-retriever overlaps (None: the guard did not look).
    """
    scripts = languages.query_scripts(query)
    out = {}
    for name in selected:
        cov = coverage.get(name) or Coverage(None, "unknown")
        covers = languages.covers(cov.scripts, scripts)
        ran = name in weights
        weight = float(weights.get(name, 0.0))
        asked = float(configured.get(name, 1.0))
        reason = None
        if not ran or (not covers and weight < asked):
            reason = "coverage"
        elif overlaps is not None and overlaps.get(name) == 0 and weight < asked:
            reason = "guard"
        out[name] = RetrieverExplain(
            ran=ran,
            reason=reason,
            query_scripts=sorted(scripts),
            coverage=None if cov.scripts is None else sorted(cov.scripts),
            coverage_source=cov.source,
            coverage_detail=cov.detail,
            covers_query=covers,
            overlap=None if overlaps is None or not ran else overlaps.get(name),
            agreement_top_n=top_n if overlaps is not None and ran else None,
            rank=hit.ranks.get(name),
            score=hit.scores.get(name),
            configured_weight=asked,
            weight=weight,
        )
    return out


def explain_rows(hit: Hit) -> list[dict[str, str]]:
    """``hit.explain`` as printable rows (one per retriever), for the CLI's table."""
    rows = []
    for name, e in (hit.explain or {}).items():
        cov = "all" if e.coverage is None else "+".join(e.coverage) or "none"
        why = e.reason or ""
        if e.reason == "coverage":
            why = f"coverage: query {'+'.join(e.query_scripts) or '-'} not in {cov}"
        elif e.reason == "guard":
            why = f"guard: 0 of top {e.agreement_top_n} shared"
        rows.append(
            {
                "retriever": name,
                "ran": "yes" if e.ran else "no",
                "why": why,
                "coverage": f"{cov} ({e.coverage_source})",
                "overlap": "" if e.overlap is None else f"{e.overlap}/{e.agreement_top_n}",
                "rank": "" if e.rank is None else str(e.rank),
                "score": "" if e.score is None else f"{e.score:.4g}",
                "weight": f"{e.weight:g} (asked {e.configured_weight:g})",
            }
        )
    return rows
