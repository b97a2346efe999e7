"""JSON text from users (input rows, CSV cells, ``--filter``) decoded without ever raising
``RecursionError``: a value nested deeper than ``MAX_JSON_DEPTH`` is refused with a ``ValueError``
saying so, like any other invalid JSON."""

from __future__ import annotations

import json
from typing import Any, Optional

MAX_JSON_DEPTH = 128
"""Deepest nesting of arrays/objects accepted (metadata allows 64 levels, a filter tree 32 groups)."""


class JsonTextError(ValueError):
    """``text`` is not JSON, or nests deeper than ``MAX_JSON_DEPTH`` (the message says which)."""


def loads(text: str | bytes, max_depth: Optional[int] = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)``; ``JsonTextError`` for invalid JSON (with the column) or a value nested
    deeper than ``max_depth`` (None: only what the decoder cannot take; the caller checks depth)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise JsonTextError(_too_deep()) from None
    if max_depth is not None and _depth_exceeds(value, max_depth):
        raise JsonTextError(_too_deep())
    return value


def _too_deep() -> str:
    return f"JSON value nests deeper than {MAX_JSON_DEPTH} levels"


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/dicts more than ``limit`` levels (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (list, dict)):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False
