"""Token-aware chunking: windows of ``chunk_tokens`` tokens overlapping by ``overlap``, cut on the
dense encoder's own token boundaries (a Hugging Face fast tokenizer's offset mapping) or, for
encoders without one, on whitespace."""

from __future__ import annotations

import copy
import re
from typing import Any, Optional

from vecbridge.schemas import ConfigurationError, Document

_WORD = re.compile(r"\S+")


class Chunker:
    """Split documents into ``<id>#<n>`` chunks (n from 0) carrying ``parent_id`` in metadata.

    Every document gets at least one chunk (an empty text gives one empty chunk), so chunk ids
    are predictable. The tokenizer is copied: chunking never shares a tokenizer with the encoder."""

    def __init__(self, chunk_tokens: int, overlap: int = 0, tokenizer: Any = None) -> None:
        if chunk_tokens < 1:
            raise ConfigurationError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
        if not 0 <= overlap < chunk_tokens:
            raise ConfigurationError(f"overlap must be >= 0 and < chunk_tokens ({chunk_tokens}), got {overlap}")
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        usable = tokenizer is not None and getattr(tokenizer, "is_fast", False)
        self.tokenizer = copy.deepcopy(tokenizer) if usable else None

    @property
    def tokens(self) -> str:
        return "tokenizer" if self.tokenizer is not None else "whitespace"

    def settings(self) -> dict[str, int]:
        return {"chunk_tokens": self.chunk_tokens, "overlap": self.overlap}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of ``text``."""
        if self.tokenizer is None:
            return [m.span() for m in _WORD.finditer(text)]
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(s, e) for s, e in encoded["offset_mapping"] if e > s]

    def windows(self, text: str) -> list[str]:
        spans = self.spans(text)
        if len(spans) <= self.chunk_tokens:
            return [text[spans[0][0]: spans[-1][1]] if spans else text]
        step = self.chunk_tokens - self.overlap
        out = []
        for start in range(0, len(spans), step):
            window = spans[start: start + self.chunk_tokens]
            out.append(text[window[0][0]: window[-1][1]])
            if start + self.chunk_tokens >= len(spans):
                break
        return out

    def split(self, document: Document) -> list[Document]:
        """The chunks of one document (validated: an over-long chunk id raises ``ValidationError``)."""
        metadata = {**document.metadata, "parent_id": document.id}
        return [Document(id=f"{document.id}#{n}", text=text, metadata=metadata)
                for n, text in enumerate(self.windows(document.text))]


def encoder_tokenizer(encoder: Optional[Any]) -> Any:
    """The Hugging Face tokenizer of an encoder, when it has one."""
    return getattr(encoder, "tokenizer", None) if encoder is not None else None
