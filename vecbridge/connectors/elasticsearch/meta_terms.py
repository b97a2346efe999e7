"""Undeclared metadata keys and dotted paths in Elasticsearch: one ``keyword`` field of terms. Pure.

Dynamic mapping cannot hold a key whose kind changes between documents (``1`` here, ``"1"`` there:
a mapping conflict) and would grow one field per key. Instead every document carries
``meta_terms``, a list of keyword terms built from ``vecbridge.schemas.filters.metadata_paths``
(paths through objects, non-null values)::

    <path>\\x1f!               the path holds a non-null value (``!= None``)
    <path>\\x1fb\\x1f1 / 0       a bool
    <path>\\x1fs\\x1f<text>      a string (``\\x1fh\\x1f<sha256>`` beyond ``LONG`` characters)
    <path>\\x1fn\\x1f<code>      a number: 16 hex digits of the float64, ordered like the numbers,
                              then 4 of ``x - float(x)`` (integers beyond 2**53 stay exact)

``<path>`` is the JSON string of the dotted path (no raw ``\\x1f`` inside), or ``#`` and its sha256
when longer than ``LONG``. Equal numbers share one code (``1`` and ``1.0``), codes sort like the
numbers, so ``==`` / ``in`` are ``term`` / ``terms`` and ranges are keyword ``range`` queries
between ``<path>\\x1fn\\x1f`` and ``<path>\\x1fn\\x1f~``; kinds never meet (``"1"``, ``1``, ``true``).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any

from vecbridge.schemas import FilterOp
from vecbridge.schemas.filters import metadata_paths

META_TERMS_FIELD = "meta_terms"
SEP = "\x1f"
LONG = 200
_TOP = "~"  # above every hex digit: the end of a path's number range
_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_RESIDUE_OFFSET, _RESIDUE_MAX = 0x8000, 0x7FFF

Query = dict[str, Any]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def path_prefix(path: str) -> str:
    """``<path>\\x1f``: the JSON string of the path, hashed when long."""
    encoded = json.dumps(path)
    return (encoded if len(encoded) <= LONG else "#" + _digest(encoded)) + SEP


def number_code(value: float) -> str:
    """20 hex digits that sort like the numbers: the float64 (sign-flipped bits), then the integer
    residue ``value - float(value)`` (0 for floats and integers up to 2**53)."""
    try:
        approx = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    except OverflowError:
        approx = math.copysign(math.inf, value)
    bits = struct.unpack(">Q", struct.pack(">d", approx))[0]
    bits = (~bits & _MASK) if bits & _SIGN else bits | _SIGN
    residue = 0
    if isinstance(value, int) and math.isfinite(approx):
        residue = max(-_RESIDUE_MAX, min(_RESIDUE_MAX, value - int(approx)))
    return f"{bits:016x}{residue + _RESIDUE_OFFSET:04x}"


def value_term(path: str, value: Any) -> str:
    """The term a non-null scalar at ``path`` is indexed as."""
    prefix = path_prefix(path)
    if isinstance(value, bool):
        return f"{prefix}b{SEP}{int(value)}"
    if isinstance(value, str):
        return f"{prefix}s{SEP}{value}" if len(value) <= LONG else f"{prefix}h{SEP}{_digest(value)}"
    return f"{prefix}n{SEP}{number_code(value)}"


def presence_term(path: str) -> str:
    return f"{path_prefix(path)}!"


def meta_terms(metadata: dict[str, Any]) -> list[str]:
    """The ``meta_terms`` of a document's metadata."""
    terms = []
    for path, value in metadata_paths(metadata):
        terms.append(presence_term(path))
        if not isinstance(value, (dict, list)):
            terms.append(value_term(path, value))
    return terms


def _term(term: str) -> Query:
    return {"term": {META_TERMS_FIELD: term}}


def _not(query: Query) -> Query:
    return {"bool": {"must_not": [query]}}


def _membership(path: str, values: list[Any]) -> Query:
    """``in``: any of the values; ``None`` among them also matches a missing / null path."""
    present = sorted({value_term(path, v) for v in values if v is not None})
    parts: list[Query] = [{"terms": {META_TERMS_FIELD: present}}] if present else []
    if any(v is None for v in values):
        parts.append(_not(_term(presence_term(path))))
    return parts[0] if len(parts) == 1 else {"bool": {"should": parts, "minimum_should_match": 1}}


_RANGE_BOUNDS = {FilterOp.GT: "gt", FilterOp.GTE: "gte", FilterOp.LT: "lt", FilterOp.LTE: "lte"}


def _range(path: str, op: FilterOp, value: Any) -> Query:
    if value is None:  # ranges never match null
        return {"match_none": {}}
    numbers = f"{path_prefix(path)}n{SEP}"
    bounds = {_RANGE_BOUNDS[op]: numbers + number_code(value)}
    if op in (FilterOp.GT, FilterOp.GTE):
        bounds["lt"] = numbers + _TOP
    else:
        bounds["gt"] = numbers
    return {"range": {META_TERMS_FIELD: bounds}}


def path_query(path: str, op: FilterOp, value: Any) -> Query:
    """The query of one condition on an undeclared key or dotted path (semantics of
    ``vecbridge.schemas.matches``: a missing or null path reads as None)."""
    if op is FilterOp.EQ:
        return _not(_term(presence_term(path))) if value is None else _term(value_term(path, value))
    if op is FilterOp.NE:
        return _not(path_query(path, FilterOp.EQ, value))
    if op is FilterOp.IN:
        return _membership(path, value)
    if op is FilterOp.NOT_IN:
        return _not(_membership(path, value))
    return _range(path, op, value)
