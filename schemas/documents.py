"""Documents: the unit of text that gets encoded and stored."""

from __future__ import annotations

from typing import Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

JsonScalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]
MetadataValue = Union[JsonScalar, list[JsonScalar]]


class Document(BaseModel):
    """A text with a stable id and JSON metadata (scalars or lists of scalars)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(min_length=1, max_length=512, description="Stable primary key; upserts replace by id.")
    text: StrictStr = Field(description="The text that is encoded and returned with hits.")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict, description="JSON scalars or lists of them.")

    @field_validator("metadata")
    @classmethod
    def _keys_are_names(cls, value: dict[str, MetadataValue]) -> dict[str, MetadataValue]:
        for key in value:
            if not key or not key.replace("_", "a").isalnum() or key[0].isdigit():
                raise ValueError(f"metadata key {key!r} must be an identifier (letters, digits, '_')")
        return value
