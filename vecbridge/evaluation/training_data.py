"""FlagEmbedding fine-tuning data: ``{"query", "pos", "neg"[, "pos_scores", "neg_scores", "prompt", "type"]}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, model_validator

NonEmptyStr = Annotated[StrictStr, Field(min_length=1, pattern=r"\S")]
Number = Union[StrictInt, StrictFloat]


class TrainingExample(BaseModel):
    """One line of a FlagEmbedding training file (unknown keys are allowed and reported as warnings)."""

    model_config = ConfigDict(extra="allow")

    query: NonEmptyStr
    pos: list[NonEmptyStr] = Field(min_length=1)
    neg: list[StrictStr]
    pos_scores: Optional[list[Number]] = None
    neg_scores: Optional[list[Number]] = None
    prompt: Optional[StrictStr] = None
    type: Optional[StrictStr] = None

    @model_validator(mode="after")
    def _scores_match(self) -> TrainingExample:
        for scores, texts, name in ((self.pos_scores, self.pos, "pos"), (self.neg_scores, self.neg, "neg")):
            if scores is not None and len(scores) != len(texts):
                raise ValueError(f"{name}_scores has {len(scores)} values but {name} has {len(texts)} passages")
        return self


@dataclass
class ValidationReport:
    path: str
    lines: int = 0
    valid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.valid > 0


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "line"
        message = error["msg"]
        if error["type"] == "string_pattern_mismatch":
            message = "must not be blank"
        parts.append(f"{where}: {message}" if error["loc"] else message)
    return "; ".join(parts)


def validate_line(text: str) -> tuple[Optional[TrainingExample], Optional[str]]:
    """(example, None) or (None, reason) for one line."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(row, dict):
        return None, f"expected a JSON object, got {type(row).__name__}"
    try:
        return TrainingExample.model_validate(row), None
    except ValidationError as exc:
        return None, _reason(exc)


def validate_file(path: str | Path) -> ValidationReport:
    """Check every line; blank lines are errors too (FlagEmbedding's loader would fail on them)."""
    path = Path(path)
    report = ValidationReport(str(path))
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            report.lines += 1
            if not line.strip():
                report.errors.append((number, "empty line"))
                continue
            example, reason = validate_line(line)
            if example is None:
                report.errors.append((number, reason or "invalid"))
                continue
            report.valid += 1
            if example.model_extra:
                report.warnings.append(
                    (number, f"unknown keys ignored by FlagEmbedding: {sorted(example.model_extra)}")
                )
    if report.lines == 0:
        report.errors.append((0, "file is empty"))
    return report
