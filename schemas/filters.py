"""Backend-neutral metadata filters: a typed tree, a validator against a spec, and a reference evaluator.

JSON form (what ``TypeAdapter(Filter)`` accepts)::

    {"key": "year", "op": ">=", "value": 2003}
    {"all": [F1, F2]}   {"any": [F1, F2]}   {"not": F}

Connectors compile a validated tree with pure functions; ``matches`` is the oracle they must agree with.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter

from schemas.collection import CollectionSpec, ScalarType, fits_scalar_type
from schemas.errors import FilterError

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr]


class FilterOp(str, Enum):
    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="


RANGE_OPS = frozenset({FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE})
LIST_OPS = frozenset({FilterOp.IN, FilterOp.NOT_IN})


class Condition(BaseModel):
    """``metadata[key] <op> value``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    op: FilterOp
    value: Union[Scalar, list[Scalar]]


class And(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list["Filter"] = Field(min_length=1)


class Or(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    any: list["Filter"] = Field(min_length=1)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    operand: "Filter" = Field(alias="not")


Filter = Union[Condition, And, Or, Not]
And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()

FILTER_ADAPTER: TypeAdapter[Filter] = TypeAdapter(Filter)


def parse_filter(value: Any) -> Filter:
    """A filter from its JSON form (dict) or an existing tree."""
    if isinstance(value, (Condition, And, Or, Not)):
        return value
    try:
        return FILTER_ADAPTER.validate_python(value)
    except ValueError as exc:
        raise FilterError(f"invalid filter {value!r}: {exc}") from exc


# ---- convenience builders ---------------------------------------------------------------
def eq(key: str, value: Any) -> Condition:
    return Condition(key=key, op=FilterOp.EQ, value=value)


def ne(key: str, value: Any) -> Condition:
    return Condition(key=key, op=FilterOp.NE, value=value)


def is_in(key: str, values: list[Any]) -> Condition:
    return Condition(key=key, op=FilterOp.IN, value=list(values))


def not_in(key: str, values: list[Any]) -> Condition:
    return Condition(key=key, op=FilterOp.NOT_IN, value=list(values))


def between(key: str, low: Any, high: Any) -> And:
    """``low <= key <= high``."""
    return And(all=[Condition(key=key, op=FilterOp.GTE, value=low), Condition(key=key, op=FilterOp.LTE, value=high)])


# ---- validation against a spec --------------------------------------------------------
def validate_filter(node: Filter, spec: CollectionSpec) -> Filter:
    """Check keys are declared filterable and values fit their types; return the node."""
    if isinstance(node, And):
        for child in node.all:
            validate_filter(child, spec)
    elif isinstance(node, Or):
        for child in node.any:
            validate_filter(child, spec)
    elif isinstance(node, Not):
        validate_filter(node.operand, spec)
    else:
        _validate_condition(node, spec)
    return node


def _validate_condition(cond: Condition, spec: CollectionSpec) -> None:
    kind = spec.filterable.get(cond.key)
    if kind is None:
        raise FilterError(
            f"filter key {cond.key!r} is not filterable in collection {spec.name!r}; "
            f"declared keys: {sorted(spec.filterable)}"
        )
    is_list = isinstance(cond.value, list)
    if cond.op in LIST_OPS:
        if not is_list or not cond.value:
            raise FilterError(f"operator {cond.op.value!r} on {cond.key!r} needs a non-empty list, got {cond.value!r}")
        values = cond.value
    else:
        if is_list:
            raise FilterError(f"operator {cond.op.value!r} on {cond.key!r} needs a scalar, got list {cond.value!r}")
        values = [cond.value]
    if cond.op in RANGE_OPS and kind not in (ScalarType.INT, ScalarType.FLOAT):
        raise FilterError(f"range operator {cond.op.value!r} needs a numeric key; {cond.key!r} is {kind.value}")
    for value in values:  # type: ignore[union-attr]
        if not fits_scalar_type(value, kind):
            raise FilterError(f"filter value {value!r} for key {cond.key!r} is not of type {kind.value}")


# ---- reference evaluator ----------------------------------------------------------------
def matches(node: Filter, metadata: dict[str, Any]) -> bool:
    """Whether ``metadata`` satisfies the filter. A missing key satisfies no condition."""
    if isinstance(node, And):
        return all(matches(child, metadata) for child in node.all)
    if isinstance(node, Or):
        return any(matches(child, metadata) for child in node.any)
    if isinstance(node, Not):
        return not matches(node.operand, metadata)
    if node.key not in metadata or metadata[node.key] is None:
        return False
    actual = metadata[node.key]
    op, value = node.op, node.value
    if op is FilterOp.EQ:
        return actual == value
    if op is FilterOp.NE:
        return actual != value
    if op is FilterOp.IN:
        return actual in value  # type: ignore[operator]
    if op is FilterOp.NOT_IN:
        return actual not in value  # type: ignore[operator]
    if op is FilterOp.GT:
        return actual > value
    if op is FilterOp.GTE:
        return actual >= value
    if op is FilterOp.LT:
        return actual < value
    return actual <= value
