"""Compile the backend-neutral filter tree (``schemas.filters``) to an Elasticsearch query. Pure.

Every condition compiles to a query matching exactly the documents ``schemas.matches`` accepts, so
``And`` / ``Or`` / ``Not`` compose as ``filter`` / ``should`` / ``must_not``:

- ``==`` / ``in`` / ranges: ``term`` / ``terms`` / ``range`` (a missing or null key matches none).
- ``!=`` / ``not in``: ``exists`` and ``must_not`` — a document without the key matches neither
  (the oracle's rule), while ``Not(==)`` does match it (``must_not`` of a ``term``), as in the oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from schemas import And, Condition, Filter, FilterError, FilterOp, Not, Or

Query = dict[str, Any]

METADATA_FIELD = "metadata"


def field_path(key: str) -> str:
    """Indexed path of a filterable metadata key."""
    return f"{METADATA_FIELD}.{key}"


def _equal(path: str, value: Any) -> Query:
    return {"term": {path: value}}


def _in(path: str, values: Any) -> Query:
    return {"terms": {path: list(values)}}


def _present_and_not(query: Query, path: str) -> Query:
    return {"bool": {"filter": [{"exists": {"field": path}}], "must_not": [query]}}


def _not_equal(path: str, value: Any) -> Query:
    return _present_and_not(_equal(path, value), path)


def _not_in(path: str, values: Any) -> Query:
    return _present_and_not(_in(path, values), path)


_RANGE_KEYWORDS = {FilterOp.GT: "gt", FilterOp.GTE: "gte", FilterOp.LT: "lt", FilterOp.LTE: "lte"}


def _range(op: FilterOp) -> Callable[[str, Any], Query]:
    """One helper for the four range operators."""

    def build(path: str, value: Any) -> Query:
        return {"range": {path: {_RANGE_KEYWORDS[op]: value}}}

    return build


CONDITION_BUILDERS: dict[FilterOp, Callable[[str, Any], Query]] = {
    FilterOp.EQ: _equal,
    FilterOp.NE: _not_equal,
    FilterOp.IN: _in,
    FilterOp.NOT_IN: _not_in,
    **{op: _range(op) for op in _RANGE_KEYWORDS},
}


def _condition(node: Condition) -> Query:
    builder = CONDITION_BUILDERS.get(node.op)
    if builder is None:
        valid = sorted(op.value for op in CONDITION_BUILDERS)
        raise FilterError(f"operator {node.op!r} on {node.key!r} is not supported; valid: {valid}")
    return builder(field_path(node.key), node.value)


def _and(node: And) -> Query:
    return {"bool": {"filter": [compile_filter(child) for child in node.all]}}


def _or(node: Or) -> Query:
    return {"bool": {"should": [compile_filter(child) for child in node.any], "minimum_should_match": 1}}


def _not(node: Not) -> Query:
    return {"bool": {"must_not": [compile_filter(node.operand)]}}


NODE_BUILDERS: dict[type, Callable[[Any], Query]] = {Condition: _condition, And: _and, Or: _or, Not: _not}


def compile_filter(node: Filter) -> Query:
    """The ES query (filter context) for a validated filter tree."""
    builder = NODE_BUILDERS.get(type(node))
    if builder is None:
        raise FilterError(f"not a filter node: {node!r} (expected one of Condition, And, Or, Not)")
    return builder(node)


def filter_clauses(node: Optional[Filter]) -> list[Query]:
    """``[compiled]`` or ``[]``: ready for a bool ``filter`` list or a knn ``filter``."""
    return [] if node is None else [compile_filter(node)]
