"""LangChain-style metadata filters (the Mongo-like dialect of Chroma, PGVector, ...) translated to
vecbridge's filter tree. Pure functions; no LangChain import, so they are testable on their own.

Accepted (``translate_filter``)::

    {"lang": "en"}                              -> lang == "en"
    {"year": {"$gte": 2020, "$lt": 2024}}       -> year >= 2020 and year < 2024
    {"lang": {"$in": ["en", "de"]}}             -> lang in [...]      ($nin -> not in)
    {"lang": "en", "year": 2021}                -> and of both (several keys at one level)
    {"$and": [F, ...]}  {"$or": [F, ...]}  {"$not": F}
    {"lang": {"$exists": True}}                 -> lang != None       (False: lang == None)
    {"year": {"$between": [2019, 2021]}}        -> 2019 <= year <= 2021
    {"lang": None}  /  {"lang": {"$ne": None}}  -> vecbridge's None semantics (missing reads as None)

Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $between``; anything else (``$like``,
``$contains``, ...) raises ``FilterError`` naming it. A vecbridge filter (a ``Condition``/``And``/
``Or``/``Not`` or its JSON form ``{"key", "op", "value"}`` / ``{"all"}`` / ``{"any"}`` / ``{"not"}``)
is passed through unchanged, so both dialects work wherever the adapter takes a filter. Keys are passed
as written (any metadata key; ``"a.b"`` is a path into nested metadata; see docs/filters.md), and
whether a value fits a declared key's type is checked later by the index against the spec.
"""

from __future__ import annotations

from typing import Any, Optional

from vecbridge.schemas.errors import FilterError, short_repr
from vecbridge.schemas.filters import And, Condition, Not, Or

_COMPARISONS = {
    "$eq": "==",
    "$ne": "!=",
    "$gt": ">",
    "$gte": ">=",
    "$lt": "<",
    "$lte": "<=",
    "$in": "in",
    "$nin": "not in",
}
OPERATORS = (*_COMPARISONS, "$exists", "$between")
"""The field operators ``translate_filter`` understands."""
_LOGICAL = ("$and", "$or", "$not")
_VECBRIDGE_SHAPES = ({"key", "op", "value"}, {"all"}, {"any"}, {"not"})


def is_vecbridge_filter(value: Any) -> bool:
    """Whether ``value`` is already a vecbridge filter (a tree node or its JSON form)."""
    if isinstance(value, (Condition, And, Or, Not)):
        return True
    return isinstance(value, dict) and set(value) in _VECBRIDGE_SHAPES


def translate_filter(value: Any) -> Optional[Any]:
    """A vecbridge filter (JSON form, or the tree given) for a LangChain-style ``value``.

    ``None`` and ``{}`` mean no filter (``None``). Raises ``FilterError`` naming the path and value
    of the first node it cannot translate.
    """
    if value is None or (isinstance(value, dict) and not value):
        return None
    if is_vecbridge_filter(value):
        return value
    return _node(value, "filter")


def _all(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return parts[0] if len(parts) == 1 else {"all": parts}


def _node(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise FilterError(
            f"{path} must be a non-empty object like {{'key': value}} or {{'$and': [...]}}, got {short_repr(value)}"
        )
    parts: list[dict[str, Any]] = []
    for key, item in value.items():
        where = f"{path}.{key}"
        if not isinstance(key, str):
            raise FilterError(f"{path}: keys must be strings, got {short_repr(key)}")
        if key in ("$and", "$or"):
            if not isinstance(item, list) or not item:
                raise FilterError(f"{where} must be a non-empty list of filters, got {short_repr(item)}")
            children = [_node(child, f"{where}[{i}]") for i, child in enumerate(item)]
            parts.append({"all" if key == "$and" else "any": children})
        elif key == "$not":
            parts.append({"not": _node(item, where)})
        elif key.startswith("$"):
            raise FilterError(f"{where}: unknown logical operator {short_repr(key)}; valid: {list(_LOGICAL)}")
        else:
            parts.extend(_field(key, item, where))
    return _all(parts)


def _field(key: str, spec: Any, path: str) -> list[dict[str, Any]]:
    """The conditions on one metadata key: a plain value (equality) or an operator object."""
    if not isinstance(spec, dict):
        if isinstance(spec, (list, tuple, set)):
            raise FilterError(
                f"{path}: a list value is ambiguous; use {{'$in': [...]}} for membership, got {short_repr(spec)}"
            )
        return [{"key": key, "op": "==", "value": spec}]
    if not spec or not all(isinstance(op, str) and op.startswith("$") for op in spec):
        raise FilterError(
            f"{path} must map operators ({', '.join(OPERATORS)}) to values, got {short_repr(spec)}; "
            "for nested metadata use a dotted key ({'a.b': value})"
        )
    out = []
    for op, operand in spec.items():
        where = f"{path}.{op}"
        if op in _COMPARISONS:
            if op in ("$in", "$nin") and not isinstance(operand, list):
                raise FilterError(f"{where} needs a JSON list, got {short_repr(operand)}")
            out.append({"key": key, "op": _COMPARISONS[op], "value": operand})
        elif op == "$exists":
            if not isinstance(operand, bool):
                raise FilterError(f"{where} needs true or false, got {short_repr(operand)}")
            out.append({"key": key, "op": "!=" if operand else "==", "value": None})
        elif op == "$between":
            if not isinstance(operand, list) or len(operand) != 2:
                raise FilterError(f"{where} needs a list [low, high], got {short_repr(operand)}")
            out += [{"key": key, "op": ">=", "value": operand[0]}, {"key": key, "op": "<=", "value": operand[1]}]
        else:
            raise FilterError(f"{where}: unsupported operator {short_repr(op)}; valid: {list(OPERATORS)}")
    return out
