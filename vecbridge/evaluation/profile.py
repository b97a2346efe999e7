"""Fusion profiles: tuned RRF parameters that ``eval`` and ``search`` load from JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vecbridge.schemas import ConfigurationError


class FusionProfile(BaseModel):
    """RRF ``k``, per-retriever weights (0: retriever skipped) and candidate window, plus provenance."""

    model_config = ConfigDict(extra="forbid")

    rrf_k: float = Field(gt=0)
    weights: dict[str, float] = Field(description="Weight per retriever name; 0 skips the retriever.")
    window: int = Field(gt=0, le=16384, description="Candidates taken from each retriever.")
    metric: str = Field(default="ndcg@10", description="What the tuning maximized.")
    dataset: str = ""
    split: str = ""
    n_queries: int = 0
    dev_scores: dict[str, float] = Field(default_factory=dict, description="Metric on the tuning split per mode.")
    tuned_score: float = 0.0
    evaluations: int = 0
    encoders: dict[str, str] = Field(default_factory=dict, description="Retriever name -> encoder used.")
    uncovered_factor: float = Field(
        default=0.0,
        ge=0,
        description="Language-aware fusion: weight multiplier of "
        "a retriever whose encoder does not cover the query's script (0: skipped).",
    )

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("weights must name at least one retriever")
        for name, weight in value.items():
            if not weight >= 0:
                raise ValueError(f"weight for {name!r} must be >= 0, got {weight!r}")
        if not any(w > 0 for w in value.values()):
            raise ValueError(f"at least one weight must be > 0, got {value}")
        return value

    @property
    def active(self) -> list[str]:
        """Retrievers with a positive weight, in profile order."""
        return [name for name, weight in self.weights.items() if weight > 0]

    def search_kwargs(self, aliases: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        """Keyword arguments for ``HybridIndex.search``/``search_batch``.

        ``aliases`` renames profile retrievers to an index's names, e.g. ``{"bm25": "sparse"}`` for an
        index built by ``HybridIndex.create`` (retrievers ``dense`` and ``sparse``).
        """
        rename = dict(aliases or {})
        weights = {rename.get(n, n): w for n, w in self.weights.items()}
        return {
            "rrf_k": self.rrf_k,
            "weights": weights,
            "window": self.window,
            "retrievers": [rename.get(n, n) for n in self.active],
            "uncovered_factor": self.uncovered_factor,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FusionProfile:
        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"fusion profile {str(path)!r} does not exist (write one with `vecbridge tune`)")
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigurationError(f"fusion profile {str(path)!r} is invalid: {exc}") from exc
