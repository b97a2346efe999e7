"""Documents: the unit of text that gets encoded and stored."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

JsonScalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]
MetadataValue = Any
"""Any JSON value: scalars, lists and objects (string keys), nested (``MAX_METADATA_DEPTH`` levels)."""
MAX_METADATA_DEPTH = 64


def json_metadata(value: Any) -> dict[str, Any]:
    """``value`` checked to be a JSON object, with ``datetime``/``date`` values (anywhere) replaced by
    their ISO-8601 strings; ``ValueError`` naming the path of the first value that is not JSON."""
    if not isinstance(value, dict):
        raise ValueError(f"metadata must be a JSON object (dict), got {type(value).__name__}")
    out: dict[str, Any] = {}
    stack: list[tuple[Any, Any, str, int]] = [(value, out, "metadata", 1)]
    while stack:
        source, target, path, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"{path} nests deeper than {MAX_METADATA_DEPTH} levels")
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(source, dict) and not isinstance(key, str):
                raise ValueError(f"{path} has a key {key!r} of type {type(key).__name__}; JSON object keys are strings")
            where = f"{path}[{key!r}]"
            if isinstance(item, (datetime, date)):
                item = item.isoformat()
            elif isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{where}={item!r} is not a finite number (JSON has no NaN/Infinity)")
            elif isinstance(item, dict):
                child: Any = {}
                stack.append((item, child, where, depth + 1))
                item = child
            elif isinstance(item, (list, tuple)):
                child = [None] * len(item)
                stack.append((item, child, where, depth + 1))
                item = child
            elif item is not None and not isinstance(item, (str, bool, int, float)):
                raise ValueError(f"{where} has a value of type {type(item).__name__}, which is not JSON")
            target[key] = item
    return out


class Document(BaseModel):
    """A text with a stable id and JSON metadata of any shape (nested objects and lists, any string
    keys such as ``"source.file"``), stored and returned unchanged; ``datetime``/``date`` values are
    kept as their ISO-8601 strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(min_length=1, max_length=512, description="Stable primary key; upserts replace by id.")
    text: StrictStr = Field(description="The text that is encoded and returned with hits.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Any JSON object.")

    @field_validator("metadata", mode="before")
    @classmethod
    def _json(cls, value: Any) -> dict[str, Any]:
        return json_metadata(value)
