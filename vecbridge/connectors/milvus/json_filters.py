"""Conditions on undeclared metadata keys and dotted paths, compiled to Milvus JSON-path expressions.

Pure functions, no I/O. A condition on key ``"a.b"`` reads ``metadata["a"]["b"]`` from the stored
JSON ``metadata`` field; a second JSON field, ``_meta_types``, maps every dotted path a filter can
address (``vecbridge.schemas.filters.metadata_paths``) to its JSON type tag (``TYPE_TAGS``), so
``T = _meta_types["a.b"]`` tells missing / null (no entry) from present, integers and floats from the rest.

What Milvus Lite 2.5.1 does on a JSON path (tried, tests/milvus/test_json_filters_engine.py):

- ``==`` / ``in`` / ranges are type-strict: ``J == 1`` matches 1 and 1.0, never true or "1";
  ``J > 0`` matches numbers only; a missing path or null matches none of them.
- ``!=`` / ``not in`` match everything else, missing, null and other kinds included: exactly
  ``not (==)``, the reference evaluator's semantics.
- ``in`` asserts on a list mixing literal kinds (``[1, 2.5]``, ``["1", true]``), so values are
  grouped: bools, strings, integers, other floats, one ``in`` each.
- A float literal compares a stored integer as a double (``J == 9007199254740992.0`` matches
  2**53 + 1), so an integral float literal is written as an integer; an integer literal that no
  double equals (2**53 + 1) compares a stored float as a double too (``==`` / ``!=`` / ranges; ``in``
  is exact), so equality uses ``in`` and ranges beyond 2**53 are split by the stored kind
  (``T == "i"``: the integer literal, ``T == "f"``: the nearest double on the right side).
- No ``exists`` and no ``not``: ``== None`` is ``T not in [tags]``, ``not (J > v)`` is
  ``T not in ["f", "i"] or J <= v``.
- A digit segment also indexes an array (``metadata["k"]["0"]`` reaches ``k: [1]``), so a path with
  such a segment is guarded by ``T`` (which only walks objects).
- A key holding ``/`` is not addressable (``metadata["x/y"]`` matches nothing): ``FilterError``.
"""

from __future__ import annotations

import math
from typing import Any

from vecbridge.schemas import FilterError, FilterOp
from vecbridge.schemas.filters import JSON_INT_MAX, JSON_INT_MIN, key_path, metadata_paths

UNSAYABLE_CHARS = ("\n", "\r", "\x00")
META_TYPES_FIELD = "_meta_types"
TYPE_TAGS = {bool: "b", int: "i", float: "f", str: "s", list: "a", dict: "o"}
ANY_TAG = "[" + ", ".join(f'"{t}"' for t in sorted(set(TYPE_TAGS.values()))) + "]"
NUMBER_TAGS = '["f", "i"]'
_SYMBOLS = {FilterOp.GT: ">", FilterOp.GTE: ">=", FilterOp.LT: "<", FilterOp.LTE: "<="}
_COMPLEMENT = {
    FilterOp.GT: FilterOp.LTE,
    FilterOp.GTE: FilterOp.LT,
    FilterOp.LT: FilterOp.GTE,
    FilterOp.LTE: FilterOp.GT,
}
EXACT = 2**53
"""Beyond +-2**53 Milvus compares a stored float with an integer literal (and an integer with a
float literal) as doubles, so such ranges are split by the stored kind (``_exact_range``)."""
NEVER, ALWAYS = 'id == ""', 'id != ""'


def quote_string(value: str, key: str = "id") -> str:
    """A Milvus string literal for ``value`` (escapes ``\\`` and ``"``); ``FilterError`` for a value
    holding a character no Milvus 2.5 literal can (newline, carriage return, NUL)."""
    for char in UNSAYABLE_CHARS:
        if char in value:
            raise FilterError(
                f"value {value!r} for {key!r} contains {char!r}, which a Milvus 2.5 expression literal cannot hold"
            )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def type_tag(value: Any) -> str:
    """The ``_meta_types`` tag of a non-null JSON value."""
    return TYPE_TAGS[type(value)]


def type_map(metadata: dict[str, Any]) -> dict[str, str]:
    """The ``_meta_types`` value stored beside ``metadata``: dotted path -> type tag."""
    return {path: type_tag(value) for path, value in metadata_paths(metadata) if "/" not in path}


class JsonPath:
    """The expressions of one dotted key: ``value`` (``metadata[...]``) and ``tag`` (``_meta_types[...]``)."""

    def __init__(self, key: str):
        segments = key_path(key)
        if "/" in key:
            raise FilterError(f"filter key {key!r} holds '/', which a Milvus JSON path cannot address")
        self.key = key
        self.value = "metadata" + "".join(f"[{quote_string(s, key)}]" for s in segments)
        self.tag = f"{META_TYPES_FIELD}[{quote_string(key, key)}]"
        self.guarded = any(s.isascii() and s.isdigit() for s in segments[1:])

    def literal(self, value: Any) -> str:
        """One scalar as a JSON literal (integral floats as integers; see the module docstring)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return quote_string(value, self.key)
        if isinstance(value, float) and value.is_integer() and JSON_INT_MIN <= value <= JSON_INT_MAX:
            value = int(value)
        return str(value) if isinstance(value, int) else repr(value)

    def present(self, expr: str) -> str:
        """``expr`` (a positive test of the value), and the path walks objects only when it must."""
        return f"({self.tag} in {ANY_TAG} and {expr})" if self.guarded else expr

    def absent_or(self, expr: str) -> str:
        """``expr`` (a negative test), or the path does not walk objects to a value."""
        return f"({self.tag} not in {ANY_TAG} or {expr})" if self.guarded else expr


def _groups(values: list[Any]) -> list[list[Any]]:
    """Non-null values split by literal kind (bools, strings, integers, other floats), de-duplicated."""
    kinds: dict[str, list[Any]] = {}
    for value in values:
        if isinstance(value, float) and value.is_integer() and JSON_INT_MIN <= value <= JSON_INT_MAX:
            value = int(value)
        group = kinds.setdefault("b" if isinstance(value, bool) else type(value).__name__, [])
        if value not in group:  # one kind per group, so True never meets 1 here
            group.append(value)
    return list(kinds.values())


def _join(parts: list[str], word: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {word} ".join(parts) + ")"


def path_expression(key: str, op: FilterOp, value: Any) -> str:
    """One condition (``op`` already negated where a ``not`` was pushed down) on an undeclared key."""
    path = JsonPath(key)
    if op in (FilterOp.EQ, FilterOp.NE) and value is None:
        return f"{path.tag} {'not in' if op is FilterOp.EQ else 'in'} {ANY_TAG}"
    if op in (FilterOp.EQ, FilterOp.NE) and _inexact_int(value):
        op, value = (FilterOp.IN if op is FilterOp.EQ else FilterOp.NOT_IN), [value]
    if op is FilterOp.EQ:
        return path.present(f"{path.value} == {path.literal(value)}")
    if op is FilterOp.NE:
        return path.absent_or(f"{path.value} != {path.literal(value)}")
    if op in (FilterOp.IN, FilterOp.NOT_IN):
        return _membership(path, op, value)
    if value is None:  # ranges never match null
        return NEVER
    return _exact_range(path, op, value)


def negated_range(key: str, op: FilterOp, value: Any) -> str:
    """``not (key <op> value)`` for a range ``op``: a missing key, a non-number, or the complement."""
    if value is None:
        return ALWAYS
    path = JsonPath(key)
    return f"({path.tag} not in {NUMBER_TAGS} or {_exact_range(path, _COMPLEMENT[op], value, guard=False)})"


def _inexact_int(value: Any) -> bool:
    """An integer no double equals (beyond 2**53)."""
    return isinstance(value, int) and not isinstance(value, bool) and float(value) != value


def _exact_range(path: JsonPath, op: FilterOp, value: float, guard: bool = True) -> str:
    """``J <op> value`` exact for stored integers and floats alike (see ``EXACT``)."""
    if -EXACT <= value <= EXACT:
        expr = f"{path.value} {_SYMBOLS[op]} {path.literal(value)}"
        return path.present(expr) if guard else expr
    parts = []
    if isinstance(value, int) or JSON_INT_MIN <= value <= JSON_INT_MAX:
        parts.append(f'({path.tag} == "i" and {path.value} {_SYMBOLS[op]} {path.literal(value)})')
    elif (value > 0) == (op in (FilterOp.LT, FilterOp.LTE)):  # a float beyond int64: every integer on one side
        parts.append(f'{path.tag} == "i"')
    if not _inexact_int(value):
        parts.append(f'({path.tag} == "f" and {path.value} {_SYMBOLS[op]} {path.literal(value)})')
    else:  # the nearest double strictly on the matching side of the integer
        below = op in (FilterOp.LT, FilterOp.LTE)
        nearest = float(value)
        if (nearest > value) if below else (nearest < value):
            nearest = math.nextafter(nearest, -math.inf if below else math.inf)
        symbol = "<=" if below else ">="
        parts.append(f'({path.tag} == "f" and {path.value} {symbol} {path.literal(nearest)})')
    return _join(parts, "or")


def _membership(path: JsonPath, op: FilterOp, values: list[Any]) -> str:
    has_none = any(v is None for v in values)
    groups = _groups([v for v in values if v is not None])
    word = "in" if op is FilterOp.IN else "not in"
    tests = [f"{path.value} {word} [{', '.join(path.literal(v) for v in group)}]" for group in groups]
    if op is FilterOp.IN:
        parts = [path.present(_join(tests, "or"))] if tests else []
        if has_none:
            parts.insert(0, f"{path.tag} not in {ANY_TAG}")
        return _join(parts, "or")
    parts = [path.absent_or(_join(tests, "and"))] if tests else []
    if has_none:
        parts.insert(0, f"{path.tag} in {ANY_TAG}")
    return _join(parts, "and")
