"""Token-aware chunking: windows of ``chunk_tokens`` tokens overlapping by ``overlap``, cut on the
dense encoder's own token boundaries (a Hugging Face fast tokenizer's offset mapping) or, for
encoders without one, on whitespace; a window ends at a paragraph or sentence end in its second
half when there is one."""

from __future__ import annotations

import copy
import re
from typing import Any, Optional

from vecbridge.schemas import ConfigurationError, Document

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?。！？][\"')\]]*$")


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
        """Windows of at most ``chunk_tokens`` tokens, consecutive ones sharing ``overlap``. A window
        that would end mid-sentence ends instead after the last paragraph break (else sentence end)
        in its second half, when there is one."""
        spans = self.spans(text)
        if len(spans) <= self.chunk_tokens:
            return [text[spans[0][0] : spans[-1][1]] if spans else text]
        out, start = [], 0
        while True:
            end = min(start + self.chunk_tokens, len(spans))
            if end < len(spans):
                end = self._boundary(text, spans, start, end)
            out.append(text[spans[start][0] : spans[end - 1][1]])
            if end >= len(spans):
                return out
            start = end - self.overlap

    def _boundary(self, text: str, spans: list[tuple[int, int]], start: int, end: int) -> int:
        """The best end (exclusive token index) in ``(start + half, end]``: after a paragraph break,
        else after a sentence end, else ``end``."""
        lowest = max(start + self.overlap + 1, start + (end - start + 1) // 2)
        sentence = None
        for cut in range(end, lowest - 1, -1):
            gap = text[spans[cut - 1][1] : spans[cut][0]]
            if "\n\n" in gap or "\n\r\n" in gap:
                return cut
            token = text[spans[cut - 1][0] : spans[cut - 1][1]]
            if sentence is None and _SENTENCE_END.search(token) and (gap[:1].isspace() or token[-1] in "。！？"):
                sentence = cut
        return sentence or end

    def split(self, document: Document) -> list[Document]:
        """The chunks of one document (validated: an over-long chunk id raises ``ValidationError``)."""
        metadata = {**document.metadata, "parent_id": document.id}
        return [
            Document(id=f"{document.id}#{n}", text=text, metadata=metadata)
            for n, text in enumerate(self.windows(document.text))
        ]


def encoder_tokenizer(encoder: Optional[Any]) -> Any:
    """The Hugging Face tokenizer of an encoder, when it has one."""
    return getattr(encoder, "tokenizer", None) if encoder is not None else None
