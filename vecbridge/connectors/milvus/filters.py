"""Compile ``vecbridge.schemas.Filter`` trees into Milvus boolean expressions (pure functions, no I/O).

Layout (connectors/milvus/schema.py): each filterable key ``k`` is a typed, non-nullable scalar field
``k`` plus a BOOL presence field ``k__present``; a document lacking ``k`` (or holding null) stores
the type's placeholder (0, 0.0, "", false) in ``k`` and false in ``k__present``. DATETIME keys are
INT64 epoch milliseconds. Milvus Lite 2.5.1 has no nullable fields, no ``exists`` on JSON paths and
no ``not``, so presence is this flag (measured against the alternatives: CHANGELOG.md, "Why the defaults").

Semantics are ``vecbridge.schemas.filters``' (missing reads as null; Haystack's): ``== None`` compiles to
``k__present == false``, ``== v`` to ``k == v`` guarded by ``k__present == true`` only when the
placeholder itself would match, ``!= v`` to ``k != v`` or'ed with ``k__present == false`` only when the
placeholder would not match, and so on: the guard is added exactly when the placeholder would give
the wrong answer. A range with a ``None`` value matches nothing (``id == ""``; ids are never empty).

Literals are never spliced raw:

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
``in``/``not in``, ``>``/``<=``, ...). That is exact because every condition is two-valued: the
presence flag decides missing keys explicitly (``not (k > 5)`` is ``k <= 5 or k__present == false``).

Keys not declared filterable (and dotted paths into nested metadata) compile to JSON-path
expressions on the stored ``metadata`` (connectors/milvus/json_filters.py).

Milvus Lite 2.5.1 rejects expressions with more than about 50 ``or`` leaves, so inside an ``or``
the equality / membership conditions on one key merge into one ``key in [...]`` (and inside an
``and`` the ``!=`` / ``not in`` ones into ``key not in [...]``): a flat ``any`` of 500 equalities
compiles to a single ``in`` (tests/milvus/test_filters_engine.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from vecbridge.connectors.milvus.json_filters import UNSAYABLE_CHARS, negated_range, path_expression, quote_string
from vecbridge.schemas import (
    And,
    CollectionSpec,
    Condition,
    Filter,
    FilterError,
    FilterOp,
    Not,
    Or,
    ScalarType,
    validate_filter,
)
from vecbridge.schemas.dates import epoch_millis, is_datetime
from vecbridge.schemas.filters import RANGE_OPS, PathCondition

__all__ = ["UNSAYABLE_CHARS", "compile_filter", "condition_expression", "ids_expression", "quote_string"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PRESENCE_SUFFIX = "__present"
PLACEHOLDERS: dict[ScalarType, Any] = {
    ScalarType.STRING: "",
    ScalarType.INT: 0,
    ScalarType.FLOAT: 0.0,
    ScalarType.BOOL: False,
    ScalarType.DATETIME: 0,
}
"""What the typed field of a document lacking the key holds (its presence flag is false)."""
ALWAYS, NEVER = 'id != ""', 'id == ""'


def presence_field(key: str) -> str:
    """The BOOL field telling whether a document holds a non-null value for ``key``."""
    return key + PRESENCE_SUFFIX


def stored_value(value: Any, kind: ScalarType) -> Any:
    """The typed field's value for a metadata value of the key's type (DATETIME: epoch ms)."""
    if kind is ScalarType.DATETIME:
        return epoch_millis(value)
    return float(value) if kind is ScalarType.FLOAT else value


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
def literal(value: Any, kind: ScalarType, key: str) -> str:
    """One scalar as a Milvus literal of the key's type."""
    if kind is ScalarType.DATETIME:
        if not is_datetime(value):
            raise FilterError(f"filter value {value!r} for key {key!r} is not a datetime")
        return str(epoch_millis(value))
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


# ---- one condition ------------------------------------------------------------------------
_SYMBOLS = {
    FilterOp.EQ: "==",
    FilterOp.NE: "!=",
    FilterOp.GT: ">",
    FilterOp.GTE: ">=",
    FilterOp.LT: "<",
    FilterOp.LTE: "<=",
    FilterOp.IN: "in",
    FilterOp.NOT_IN: "not in",
}
_PYTHON = {
    FilterOp.EQ: lambda a, b: a == b,
    FilterOp.NE: lambda a, b: a != b,
    FilterOp.GT: lambda a, b: a > b,
    FilterOp.GTE: lambda a, b: a >= b,
    FilterOp.LT: lambda a, b: a < b,
    FilterOp.LTE: lambda a, b: a <= b,
    FilterOp.IN: lambda a, b: a in b,
    FilterOp.NOT_IN: lambda a, b: a not in b,
}


def _typed(key: str, op: FilterOp, value: Any, kind: ScalarType, missing_matches: bool) -> str:
    """``key <op> value`` on the typed field, with the presence guard only where the placeholder
    of a document lacking the key would decide wrongly (``missing_matches``: what it must decide)."""
    if op in (FilterOp.IN, FilterOp.NOT_IN):
        expr = f"{key} {_SYMBOLS[op]} [{', '.join(literal(v, kind, key) for v in value)}]"
        stored = [stored_value(v, kind) for v in value]
    else:
        expr = f"{key} {_SYMBOLS[op]} {literal(value, kind, key)}"
        stored = stored_value(value, kind)
    if _PYTHON[op](PLACEHOLDERS[kind], stored) == missing_matches:
        return expr
    flag = presence_field(key)
    return f"({flag} == false or {expr})" if missing_matches else f"({flag} == true and {expr})"


def condition_expression(key: str, op: FilterOp, value: Any, kind: ScalarType) -> str:
    """One condition of ``vecbridge.schemas.filters``' semantics (missing or null reads as None)."""
    flag = presence_field(key)
    if op in (FilterOp.EQ, FilterOp.NE) and value is None:
        return f"{flag} == {'false' if op is FilterOp.EQ else 'true'}"
    if op in (FilterOp.EQ, FilterOp.NE):
        return _typed(key, op, value, kind, missing_matches=op is FilterOp.NE)
    if op in (FilterOp.IN, FilterOp.NOT_IN):
        values = list({(type(v), v): v for v in value if v is not None}.values())
        has_none = any(v is None for v in value)
        missing_matches = has_none == (op is FilterOp.IN)
        if not values:
            return f"{flag} == {'false' if missing_matches else 'true'}"
        return _typed(key, op, values, kind, missing_matches)
    if value is None:  # ranges never match null, and compare nothing with None
        return NEVER
    return _typed(key, op, value, kind, missing_matches=False)


def _condition(cond: Condition, spec: CollectionSpec, negate: bool) -> str:
    op = NEGATED[cond.op] if negate else cond.op
    if isinstance(cond, PathCondition):  # undeclared key or dotted path: the JSON metadata
        if negate and cond.op in RANGE_OPS:
            return negated_range(cond.key, cond.op, cond.value)
        return path_expression(cond.key, op, cond.value)
    if negate and cond.op in RANGE_OPS and cond.value is None:
        return ALWAYS
    if negate and cond.op in RANGE_OPS:  # not (k > v): k <= v, or k missing
        return _typed(cond.key, op, cond.value, spec.filterable[cond.key], missing_matches=True)
    return condition_expression(cond.key, op, cond.value, spec.filterable[cond.key])


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
            values.extend(cond.value if op is not single_op and isinstance(cond.value, list) else [cond.value])
        kind = spec.filterable.get(item)
        parts.append(
            path_expression(item, merged_op, values)
            if kind is None
            else condition_expression(item, merged_op, values, kind)
        )
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
    return _compile(validate_filter(node, spec), spec, negate=False)


def ids_expression(ids: Sequence[str]) -> str:
    """``id in ["a", "b"]`` with every id escaped."""
    if not ids:
        raise FilterError("ids must not be empty")
    return "id in [" + ", ".join(quote_string(i, "id") for i in ids) + "]"
