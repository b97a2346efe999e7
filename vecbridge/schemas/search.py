"""Search requests and hits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any, Optional, overload

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vecbridge.schemas.arguments import Count, FiniteFloat
from vecbridge.schemas.documents import MetadataValue
from vecbridge.schemas.filters import Filter, parse_filter


class SearchMode(str, Enum):
    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


class FusionMethod(str, Enum):
    RRF = "rrf"
    LINEAR = "linear"


class FusionParams(BaseModel):
    """How ranked lists are fused.

    RRF: ``score(d) = sum_i w_i / (rrf_k + rank_i(d))`` with 1-based ranks; a document missing from
    a list adds 0. ``window``: candidates taken from each retriever, default ``max(4 * k, 50)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: FusionMethod = FusionMethod.RRF
    rrf_k: FiniteFloat = Field(default=60.0, gt=0)
    weights: dict[str, FiniteFloat] = Field(default_factory=dict, description="Per-retriever weight, default 1.")
    window: Optional[Count] = Field(default=None, gt=0, le=16384)
    native: bool = Field(
        default=False,
        description="Use the backend's server-side hybrid search if it has one: one request, exact fused ties "
        "ordered by id, but hits without per-retriever ranks/scores.",
    )
    uncovered_factor: FiniteFloat = Field(
        default=0.0,
        ge=0,
        description="Language-aware fusion: weight multiplier of a retriever whose encoder does not cover the "
        "query's script (0: it does not run; 1: the rule is off). See vecbridge/languages.py.",
    )
    agreement_top_n: Optional[Count] = Field(
        default=None,
        gt=0,
        le=16384,
        description="Agreement guard: how many of each retriever's first hits are compared with the others' "
        "(None: the index's setting, VECBRIDGE_FUSION_AGREEMENT_TOP_N, default 10).",
    )
    disagreement_factor: Optional[FiniteFloat] = Field(
        default=None,
        ge=0,
        description="Agreement guard: weight multiplier of a retriever whose first hits share nothing with any "
        "other retriever's (1: the guard is off; None: the index's setting, VECBRIDGE_FUSION_DISAGREEMENT_FACTOR, "
        "default 0.5). See vecbridge/fusion.py.",
    )

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not weight >= 0:
                raise ValueError(f"fusion weight for {name!r} must be >= 0, got {weight!r}")
        return value

    def window_for(self, k: int) -> int:
        return self.window if self.window is not None else max(4 * k, 50)

    def weight(self, retriever: str) -> float:
        return self.weights.get(retriever, 1.0)


class SearchRequest(BaseModel):
    """One query against a collection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1)
    k: Count = Field(default=10, gt=0, le=16384)
    mode: SearchMode = SearchMode.HYBRID
    retrievers: Optional[list[str]] = Field(
        default=None, description="Explicit retriever names; overrides the set implied by mode."
    )
    filter: Optional[Filter] = None
    fusion: FusionParams = Field(default_factory=FusionParams)
    rerank_top_n: Optional[Count] = Field(default=None, gt=0)
    ef: Optional[Count] = Field(
        default=None,
        gt=0,
        le=32768,
        description="HNSW search breadth of dense retrievers (Milvus: params.ef, at least the candidates asked; "
        "Elasticsearch: knn num_candidates); None: the store's default. Exact (FLAT) indexes ignore it.",
    )

    explain: bool = Field(
        default=False, description="Attach to every hit how each retriever took part (``Hit.explain``)."
    )

    @field_validator("filter", mode="before")
    @classmethod
    def _filter(cls, value: Any) -> Any:
        return None if value is None else parse_filter(value)


class RetrieverExplain(BaseModel):
    """How one retriever took part in a query (``search(..., explain=True)``)."""

    model_config = ConfigDict(extra="forbid")

    ran: bool = Field(description="Whether its list was fetched and fused for this query.")
    reason: Optional[str] = Field(
        default=None,
        description="Why it did not run or ran with less weight: 'coverage' (its encoder does not cover the "
        "query's scripts), 'guard' (its first hits shared nothing with the other retrievers'), or None.",
    )
    query_scripts: list[str] = Field(default_factory=list, description="Scripts of the query (languages.py).")
    coverage: Optional[list[str]] = Field(default=None, description="Scripts it covers; None: every script.")
    coverage_source: str = Field(
        default="unknown", description="Where its coverage came from: user, alias, card, tokenizer, probe, ..."
    )
    coverage_detail: str = ""
    covers_query: bool = True
    overlap: Optional[int] = Field(
        default=None, description="Most ids its first agreement_top_n hits share with another retriever's."
    )
    agreement_top_n: Optional[int] = None
    rank: Optional[int] = Field(default=None, description="1-based rank of this hit in its list; None: absent.")
    score: Optional[float] = Field(default=None, description="Its raw score for this hit.")
    configured_weight: float = Field(default=1.0, description="Weight asked for in the request.")
    weight: float = Field(default=0.0, description="Weight it had in the fusion (0: it did not run).")


class Hit(BaseModel):
    """One search result (``relevance``: see the field). ``ranks``/``scores`` hold each retriever's
    1-based rank and raw score;
    ``retrievers`` lists every retriever that ran for the query (language-aware fusion may leave
    some out), including those that did not return this hit."""

    model_config = ConfigDict(extra="forbid")

    id: str
    score: float
    text: str = ""
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    ranks: dict[str, int] = Field(default_factory=dict)
    scores: dict[str, float] = Field(default_factory=dict)
    retrievers: list[str] = Field(default_factory=list)
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Fused hits: each retriever's weight in the fusion after the language rule and the "
        "agreement guard.",
    )
    explain: Optional[dict[str, RetrieverExplain]] = Field(
        default=None, description="Per retriever of the request: how it took part (``explain=True``)."
    )
    relevance: Optional[float] = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Score mapped to [0, 1], 1 best: single-retriever dense hits whose metric allows it "
        "(COSINE, IP on normalized vectors: (1 + s) / 2; L2: 1 / (1 + distance)); None otherwise "
        "(fused, sparse, text, reranked hits).",
    )


_HIT_FIELDS = frozenset(Hit.model_fields)


def bare_hit(id: str, score: float) -> Hit:
    """``Hit(id=id, score=score)`` without validation, for the ids-and-scores lists of a fused search
    (hundreds per query). The caller passes a ``str`` id and a ``float`` score, as validation would make them.
    Every other field holds its default (tests compare it with a validated ``Hit``, field by field)."""
    hit = object.__new__(Hit)
    object.__setattr__(
        hit,
        "__dict__",
        {
            "id": id,
            "score": score,
            "text": "",
            "metadata": {},
            "ranks": {},
            "scores": {},
            "retrievers": [],
            "weights": {},
            "explain": None,
            "relevance": None,
        },
    )
    object.__setattr__(hit, "__pydantic_fields_set__", {"id", "score"})
    object.__setattr__(hit, "__pydantic_extra__", None)
    object.__setattr__(hit, "__pydantic_private__", None)
    return hit


def trusted_hit(fields: dict[str, Any]) -> Hit:
    """A ``Hit`` of ``fields`` (``id`` and ``score`` included; values already valid: taken from validated
    hits) without validation, the other fields at their defaults; ``model_fields_set`` is ``fields``' keys,
    as ``Hit.model_construct(**fields)`` makes it, at a fraction of the cost."""
    hit = bare_hit(fields["id"], fields["score"])
    hit.__dict__.update(fields)
    object.__setattr__(hit, "__pydantic_fields_set__", set(fields))
    return hit


class ScoredIds(Sequence[Hit]):
    """A best-first list of ids and scores that reads as ``Hit``s (``bare_hit``, built on access).

    What an ids-and-scores search (``content=False``) returns: a fusion reads only ``ids`` and
    ``scores``, so the hundreds of candidates per query never become objects (each ``Hit`` costs
    several containers, and allocating them at that rate wakes Python's cyclic garbage collector).
    Indexing, slicing (another ``ScoredIds``), iteration and ``==`` with a list of hits work as on
    ``list[Hit]``; each access builds fresh hits, so changing one changes nothing stored here.
    """

    __slots__ = ("ids", "scores")

    def __init__(self, ids: list[str], scores: list[float]) -> None:
        if len(ids) != len(scores):
            raise ValueError(f"ScoredIds needs as many scores as ids, got {len(scores)} for {len(ids)}")
        self.ids, self.scores = ids, scores

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> ScoredIds: ...

    def __getitem__(self, index: int | slice) -> Hit | ScoredIds:
        if isinstance(index, slice):
            return ScoredIds(self.ids[index], self.scores[index])
        return bare_hit(self.ids[index], self.scores[index])

    def __iter__(self) -> Iterator[Hit]:
        return map(bare_hit, self.ids, self.scores)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ScoredIds):
            return self.ids == other.ids and self.scores == other.scores
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable container semantics, as list

    def __repr__(self) -> str:
        return f"ScoredIds({list(zip(self.ids, self.scores, strict=True))!r})"


def ids_and_scores(hits: Sequence[Hit]) -> tuple[list[str], list[float]]:
    """The ids and scores of a best-first list of hits (read directly from a ``ScoredIds``)."""
    if isinstance(hits, ScoredIds):
        return hits.ids, hits.scores
    return [h.id for h in hits], [h.score for h in hits]
