"""Compile the backend-neutral filter tree (``vecbridge.schemas.filters``) to an Elasticsearch query. Pure.

Every condition compiles to a query matching exactly the documents ``vecbridge.schemas.matches`` accepts
(a missing or null key reads as ``None``; Haystack's semantics), so ``And`` / ``Or`` / ``Not``
compose as ``filter`` / ``should`` / ``must_not`` (Elasticsearch's bool logic is two-valued per
document, like the oracle's):

- ``== v`` / ``in [...]`` / ranges: ``term`` / ``terms`` / ``range`` (a missing or null key matches none).
- ``== None``: ``must_not exists``; ``!= None``: ``exists``; ``None`` inside an ``in`` list adds
  ``must_not exists`` to its ``should``.
- ``!= v`` / ``not in [...]``: ``must_not`` of the positive query, so documents lacking the key match.
- a range with a ``None`` value matches nothing (``match_none``).
- keys not declared filterable and dotted paths (``PathCondition``): terms of the ``meta_terms``
  keyword field (connectors/elasticsearch/meta_terms.py).
- date/time values (DATETIME keys, ``date`` fields; ``validate_filter`` turns them into ``datetime``)
  are sent as UTC ISO-8601 strings with milliseconds, Elasticsearch's ``date`` resolution (the
  emulator matches no ``term`` given epoch milliseconds on a ``date`` field).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Optional

from vecbridge.connectors.elasticsearch.meta_terms import path_query
from vecbridge.schemas import And, Condition, Filter, FilterError, FilterOp, Not, Or
from vecbridge.schemas.dates import iso_millis
from vecbridge.schemas.filters import PathCondition

Query = dict[str, Any]

METADATA_FIELD = "metadata"


def field_path(key: str) -> str:
    """Indexed path of a filterable metadata key."""
    return f"{METADATA_FIELD}.{key}"


def _value(value: Any) -> Any:
    """A filter value as sent to Elasticsearch (date/time: UTC ISO-8601 at millisecond resolution)."""
    return iso_millis(value) if isinstance(value, (datetime, date)) else value


def _exists(path: str) -> Query:
    return {"exists": {"field": path}}


def _not(query: Query) -> Query:
    return {"bool": {"must_not": [query]}}


def _equal(path: str, value: Any) -> Query:
    return _not(_exists(path)) if value is None else {"term": {path: _value(value)}}


def _in(path: str, values: Any) -> Query:
    present = [_value(v) for v in values if v is not None]
    terms: Query = {"terms": {path: present}}
    if any(isinstance(v, (datetime, date)) for v in values):  # the emulator's terms ignores date fields
        terms = {"bool": {"should": [{"term": {path: v}} for v in present], "minimum_should_match": 1}}
    if len(present) == len(values):
        return terms
    missing = _not(_exists(path))
    return missing if not present else {"bool": {"should": [terms, missing], "minimum_should_match": 1}}


def _not_equal(path: str, value: Any) -> Query:
    return _not(_equal(path, value))


def _not_in(path: str, values: Any) -> Query:
    return _not(_in(path, values))


_RANGE_KEYWORDS = {FilterOp.GT: "gt", FilterOp.GTE: "gte", FilterOp.LT: "lt", FilterOp.LTE: "lte"}


def _range(op: FilterOp) -> Callable[[str, Any], Query]:
    """One helper for the four range operators."""

    def build(path: str, value: Any) -> Query:
        if value is None:  # ranges never match null
            return {"match_none": {}}
        return {"range": {path: {_RANGE_KEYWORDS[op]: _value(value)}}}

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


def _path_condition(node: PathCondition) -> Query:
    return path_query(node.key, node.op, node.value)


def _and(node: And) -> Query:
    return {"bool": {"filter": [compile_filter(child) for child in node.all]}}


def _or(node: Or) -> Query:
    return {"bool": {"should": [compile_filter(child) for child in node.any], "minimum_should_match": 1}}


def _negation(node: Not) -> Query:
    return _not(compile_filter(node.operand))


NODE_BUILDERS: dict[type, Callable[[Any], Query]] = {
    Condition: _condition,
    PathCondition: _path_condition,
    And: _and,
    Or: _or,
    Not: _negation,
}


def compile_filter(node: Filter) -> Query:
    """The ES query (filter context) for a tree returned by ``vecbridge.schemas.validate_filter``."""
    builder = NODE_BUILDERS.get(type(node))
    if builder is None:
        raise FilterError(f"not a filter node: {node!r} (expected one of Condition, And, Or, Not)")
    return builder(node)


def filter_clauses(node: Optional[Filter]) -> list[Query]:
    """``[compiled]`` or ``[]``: ready for a bool ``filter`` list or a knn ``filter``."""
    return [] if node is None else [compile_filter(node)]
