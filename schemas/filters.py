"""Backend-neutral metadata filters: a typed tree, a validator against a spec, and a reference evaluator.

JSON form (what ``TypeAdapter(Filter)`` accepts)::

    {"key": "year", "op": ">=", "value": 2003}
    {"all": [F1, F2]}   {"any": [F1, F2]}   {"not": F}

Connectors compile a validated tree with pure functions; ``matches`` is the oracle they must agree with.
Trees nest at most ``MAX_FILTER_DEPTH`` (32) levels; errors name the node's path (``filter.all[1].op``)
and quote values cut to a few dozen characters.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter

from schemas.collection import CollectionSpec, ScalarType, fits_scalar_type
from schemas.errors import FilterError, describe_validation_error, short_repr

MAX_FILTER_DEPTH = 32
"""Most nested levels in a filter tree (a condition alone is 1; each ``all``/``any``/``not`` adds 1)."""

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
    """A filter from its JSON form (dict) or an existing tree.

    Raises ``FilterError`` naming the offending node's path and value, also for trees deeper than
    ``MAX_FILTER_DEPTH``.
    """
    if isinstance(value, (Condition, And, Or, Not)):
        _check_depth(value)
        return value
    _check_json(value)
    try:
        return FILTER_ADAPTER.validate_python(value)
    except ValueError as exc:  # not expected after _check_json; still one short line
        raise FilterError(describe_validation_error(exc, "invalid filter")) from None


_NODE_SHAPES = "{'key', 'op', 'value'}, {'all': [...]}, {'any': [...]}, {'not': {...}}"


def _children(node: Any) -> list[Any]:
    """Sub-filters of a JSON or model node (no validation)."""
    if isinstance(node, dict):
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                return node[key]
        return [node["not"]] if "not" in node else []
    if isinstance(node, (And, Or)):
        return list(node.all if isinstance(node, And) else node.any)
    return [node.operand] if isinstance(node, Not) else []


def _check_depth(root: Any) -> None:
    """``FilterError`` if the tree nests deeper than ``MAX_FILTER_DEPTH`` (iterative: no RecursionError)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_FILTER_DEPTH:
            raise FilterError(f"filter is nested deeper than {MAX_FILTER_DEPTH} levels; flatten it (all/any take lists)")
        stack.extend((child, depth + 1) for child in _children(node))


def _check_json(root: Any) -> None:
    """Check the JSON form node by node, so an error names its path and the bad value only."""
    _check_depth(root)
    ops = [op.value for op in FilterOp]
    stack: list[tuple[Any, str]] = [(root, "filter")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, (Condition, And, Or, Not)):
            continue
        if not isinstance(node, dict):
            raise FilterError(f"{path} must be an object like {_NODE_SHAPES}, got {short_repr(node)}")
        keys = set(node)
        if keys == {"key", "op", "value"}:
            if not isinstance(node["key"], str):
                raise FilterError(f"{path}.key must be a string, got {short_repr(node['key'])}")
            if node["op"] not in ops:
                raise FilterError(f"{path}.op: unknown operator {short_repr(node['op'])}; valid: {ops}")
            values = node["value"] if isinstance(node["value"], list) else [node["value"]]
            for value in values:
                if not isinstance(value, (bool, int, float, str)):
                    raise FilterError(
                        f"{path}.value must be a string, number, bool or a list of them, got {short_repr(node['value'])}"
                    )
        elif keys in ({"all"}, {"any"}):
            (key,) = keys
            if not isinstance(node[key], list) or not node[key]:
                raise FilterError(f"{path}.{key} must be a non-empty list of filters, got {short_repr(node[key])}")
            stack.extend((child, f"{path}.{key}[{i}]") for i, child in enumerate(node[key]))
        elif keys == {"not"}:
            stack.append((node["not"], f"{path}.not"))
        else:
            raise FilterError(f"{path} must have the keys of one of {_NODE_SHAPES}, got keys {sorted(map(str, keys))}")


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
            f"filter key {short_repr(cond.key)} is not filterable in collection {spec.name!r}; "
            f"declared keys: {sorted(spec.filterable)}"
        )
    is_list = isinstance(cond.value, list)
    if cond.op in LIST_OPS:
        if not is_list or not cond.value:
            raise FilterError(f"operator {cond.op.value!r} on {cond.key!r} needs a non-empty list, got {short_repr(cond.value)}")
        values = cond.value
    else:
        if is_list:
            raise FilterError(f"operator {cond.op.value!r} on {cond.key!r} needs a scalar, got list {short_repr(cond.value)}")
        values = [cond.value]
    if cond.op in RANGE_OPS and kind not in (ScalarType.INT, ScalarType.FLOAT):
        raise FilterError(f"range operator {cond.op.value!r} needs a numeric key; {cond.key!r} is {kind.value}")
    for value in values:  # type: ignore[union-attr]
        if not fits_scalar_type(value, kind):
            raise FilterError(f"filter value {short_repr(value)} for key {short_repr(cond.key)} is not of type {kind.value}")


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
