"""Compile ``schemas.Filter`` trees into Milvus boolean expressions (pure functions, no I/O).

Each filterable key is a typed scalar field of the collection, so conditions compile to
``field <op> literal``. Literals are never spliced raw:

- strings: double-quoted with ``\\`` and ``"`` backslash-escaped. Milvus Lite 2.5.1's expression
  lexer decodes exactly those two escapes; it does NOT decode ``\\n``, ``\\t`` or ``\\uXXXX`` and
  rejects raw CR/LF inside a literal, so values holding ``\\n``, ``\\r`` or NUL cannot be expressed and
  raise ``FilterError``. Every other character (tabs, quotes, unicode, expression syntax) is
  passed through verbatim inside the quotes and round-trips exactly (tests/milvus/test_filters_engine.py).
- numbers: ``repr`` of a finite int (int64 range) or float; FLOAT keys always get float literals
  (Lite asserts on ``double_field in [1, 2]`` with int literals).
- bools: ``true`` / ``false``.

Milvus Lite 2.5.1 rejects ``not (...)`` ("unsupported expr proto node"), so ``Not`` is pushed down
to the leaves with De Morgan's laws and each operator replaced by its complement (``==``/``!=``,
``in``/``not in``, ``>``/``<=``, ...). That is exact because every row holds a value for every
filterable key (Lite has no nullable fields; the connector rejects documents missing one).

Milvus Lite 2.5.1 rejects expressions with more than about 50 ``or`` leaves, so inside an ``or``
the equality / membership conditions on one key merge into one ``key in [...]`` (and inside an
``and`` the ``!=`` / ``not in`` ones into ``key not in [...]``): a flat ``any`` of 500 equalities
compiles to a single ``in`` (tests/milvus/test_filters_engine.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from schemas import And, CollectionSpec, Condition, Filter, FilterError, FilterOp, Not, Or, ScalarType, validate_filter

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UNSAYABLE_CHARS = ("\n", "\r", "\x00")

NEGATED: dict[FilterOp, FilterOp] = {
    FilterOp.EQ: FilterOp.NE,
    FilterOp.NE: FilterOp.EQ,
    FilterOp.IN: FilterOp.NOT_IN,
    FilterOp.NOT_IN: FilterOp.IN,
    FilterOp.GT: FilterOp.LTE,
    FilterOp.GTE: FilterOp.LT,
    FilterOp.LT: FilterOp.GTE,
    FilterOp.LTE: FilterOp.GT,
}


# ---- literals ---------------------------------------------------------------------------
def quote_string(value: str, key: str = "id") -> str:
    """A Milvus string literal for ``value`` (escapes ``\\`` and ``"``)."""
    for char in UNSAYABLE_CHARS:
        if char in value:
            raise FilterError(
                f"value {value!r} for {key!r} contains {char!r}, which a Milvus 2.5 expression literal cannot hold"
            )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: Any, kind: ScalarType, key: str) -> str:
    """One scalar as a Milvus literal of the key's type."""
    if kind is ScalarType.STRING:
        if not isinstance(value, str):
            raise FilterError(f"filter value {value!r} for key {key!r} is not a string")
        return quote_string(value, key)
    if kind is ScalarType.BOOL:
        if not isinstance(value, bool):
            raise FilterError(f"filter value {value!r} for key {key!r} is not a bool")
        return "true" if value else "false"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"filter value {value!r} for key {key!r} is not a number")
    if kind is ScalarType.INT:
        if not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
            raise FilterError(f"filter value {value!r} for key {key!r} is not an int64")
        return str(value)
    if not math.isfinite(value):
        raise FilterError(f"filter value {value!r} for key {key!r} must be finite")
    return repr(float(value))


# ---- one small function per operator ----------------------------------------------------
def _binary(symbol: str) -> Callable[[str, Any, ScalarType], str]:
    def compile_binary(key: str, value: Any, kind: ScalarType) -> str:
        return f"{key} {symbol} {literal(value, kind, key)}"

    return compile_binary


def _membership(symbol: str) -> Callable[[str, Any, ScalarType], str]:
    def compile_membership(key: str, values: Any, kind: ScalarType) -> str:
        return f"{key} {symbol} [{', '.join(literal(v, kind, key) for v in values)}]"

    return compile_membership


OPERATORS: dict[FilterOp, Callable[[str, Any, ScalarType], str]] = {
    FilterOp.EQ: _binary("=="),
    FilterOp.NE: _binary("!="),
    FilterOp.GT: _binary(">"),
    FilterOp.GTE: _binary(">="),
    FilterOp.LT: _binary("<"),
    FilterOp.LTE: _binary("<="),
    FilterOp.IN: _membership("in"),
    FilterOp.NOT_IN: _membership("not in"),
}


# ---- tree -------------------------------------------------------------------------------
def _condition(cond: Condition, spec: CollectionSpec, negate: bool) -> str:
    op = NEGATED[cond.op] if negate else cond.op
    compile_op = OPERATORS.get(op)
    if compile_op is None:  # pragma: no cover - FilterOp is closed, kept for new members
        raise FilterError(f"unknown operator {op!r}; valid: {[o.value for o in OPERATORS]}")
    return compile_op(cond.key, cond.value, spec.filterable[cond.key])


def _join(parts: list[str], word: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {word} ".join(parts) + ")"


_MERGED = {  # joining word -> (operators merged per key, single-value operator, merged operator)
    "or": ({FilterOp.EQ, FilterOp.IN}, FilterOp.EQ, FilterOp.IN),
    "and": ({FilterOp.NE, FilterOp.NOT_IN}, FilterOp.NE, FilterOp.NOT_IN),
}


def _children(children: Sequence[Filter], spec: CollectionSpec, negate: bool, word: str) -> list[str]:
    """Compile the children of an ``or`` / ``and``, merging same-key (not-)equalities per ``_MERGED``."""
    mergeable, single_op, merged_op = _MERGED[word]
    groups: dict[str, list[Condition]] = {}
    order: list[Any] = []  # a key (str) for a merged group, else the child node
    for child in children:
        if isinstance(child, Condition) and (NEGATED[child.op] if negate else child.op) in mergeable:
            if child.key not in groups:
                groups[child.key] = []
                order.append(child.key)
            groups[child.key].append(child)
        else:
            order.append(child)
    parts = []
    for item in order:
        if not isinstance(item, str):
            parts.append(_compile(item, spec, negate))
            continue
        conditions = groups[item]
        if len(conditions) == 1:
            parts.append(_condition(conditions[0], spec, negate))
            continue
        values: list[Any] = []
        for cond in conditions:
            op = NEGATED[cond.op] if negate else cond.op
            values.extend([cond.value] if op is single_op else cond.value)
        unique = list({(type(v), v): v for v in values}.values())
        parts.append(OPERATORS[merged_op](item, unique, spec.filterable[item]))
    return parts


def _compile(node: Filter, spec: CollectionSpec, negate: bool) -> str:
    if isinstance(node, Not):
        return _compile(node.operand, spec, not negate)
    if isinstance(node, And):
        word = "or" if negate else "and"
        return _join(_children(node.all, spec, negate, word), word)
    if isinstance(node, Or):
        word = "and" if negate else "or"
        return _join(_children(node.any, spec, negate, word), word)
    return _condition(node, spec, negate)


def compile_filter(node: Filter, spec: CollectionSpec) -> str:
    """Validate ``node`` against ``spec`` and return its Milvus boolean expression."""
    validate_filter(node, spec)
    return _compile(node, spec, negate=False)


def ids_expression(ids: Sequence[str]) -> str:
    """``id in ["a", "b"]`` with every id escaped."""
    if not ids:
        raise FilterError("ids must not be empty")
    return "id in [" + ", ".join(quote_string(i, "id") for i in ids) + "]"
