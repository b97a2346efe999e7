"""Backend-neutral metadata filters: a typed tree, a validator against a spec, and a reference evaluator.

JSON form (what ``TypeAdapter(Filter)`` accepts)::

    {"key": "year", "op": ">=", "value": 2003}
    {"all": [F1, F2]}   {"any": [F1, F2]}   {"not": F}

Semantics (Haystack's; docs/filters.md): a missing key reads as null (``None``) and a condition is
``metadata.get(key) <op> value``: ``== None`` matches missing or null, ``!= v`` and ``not in [...]``
match documents lacking the key, ranges never match a missing/null key (nor a ``None`` value), and
``not`` is plain boolean negation. ``in`` / ``not in`` take a JSON list (a tuple or set is a
``FilterError``). Keys are top-level metadata keys declared in ``CollectionSpec.filterable``.

Connectors compile a validated tree with pure functions; ``matches`` is the oracle they must agree with.
Trees nest at most ``MAX_FILTER_DEPTH`` (32) levels; errors name the node's path (``filter.all[1].op``)
and quote values cut to a few dozen characters.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    model_validator,
)

from vecbridge.schemas import jsontext
from vecbridge.schemas.collection import CollectionSpec, ScalarType, fits_scalar_type
from vecbridge.schemas.dates import epoch_millis, parse_datetime
from vecbridge.schemas.errors import FilterError, describe_validation_error, short_repr

MAX_FILTER_DEPTH = 32
"""Most nested levels in a filter tree (a condition alone is 1; each ``all``/``any``/``not`` adds 1)."""

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr, datetime, date, None]
"""A filter value: JSON scalar, ``None`` (null / missing) or a date/time (for DATETIME keys)."""
_SCALAR_TYPES = (bool, int, float, str, datetime, date, type(None))
_NOT_LISTS = (tuple, set, frozenset)


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


def _not_a_list_error(key: Any, op: Any, value: Any) -> FilterError:
    return FilterError(
        f"operator {str(getattr(op, 'value', op))!r} on {short_repr(key)} needs a JSON list, "
        f"got {type(value).__name__} {short_repr(value)}"
    )


class Condition(BaseModel):
    """``metadata.get(key) <op> value``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    op: FilterOp
    value: Union[Scalar, list[Scalar]]

    @model_validator(mode="before")
    @classmethod
    def _lists_are_lists(cls, data: Any) -> Any:
        """A tuple / set value is a ``FilterError`` (pydantic would turn it into a list)."""
        if isinstance(data, dict) and isinstance(data.get("value"), _NOT_LISTS):
            raise _not_a_list_error(data.get("key"), data.get("op"), data["value"])
        return data


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


def filter_json(text: str) -> Any:
    """The JSON form of a filter given as text (``vecbridge search --filter``), decoded and checked
    with ``parse_filter``; ``FilterError`` for text that is not JSON (at any nesting) or not a filter."""
    try:
        value = jsontext.loads(text, max_depth=None)  # parse_filter checks the depth
    except jsontext.JsonTextError as exc:
        raise FilterError(f"--filter is not valid JSON: {exc}") from None
    parse_filter(value)
    return value


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
            if isinstance(node["value"], _NOT_LISTS):
                raise _not_a_list_error(node["key"], node["op"], node["value"])
            values = node["value"] if isinstance(node["value"], list) else [node["value"]]
            for value in values:
                if not isinstance(value, _SCALAR_TYPES):
                    raise FilterError(
                        f"{path}.value must be a string, number, bool, null, date/time or a list of them, "
                        f"got {short_repr(node['value'])}"
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
    """Check keys are declared filterable and values fit their types.

    Returns the tree with DATETIME values as aware UTC ``datetime`` objects (the same node when
    there are none), which is what the compilers expect.
    """
    if isinstance(node, And):
        children = [validate_filter(child, spec) for child in node.all]
        return node if all(a is b for a, b in zip(children, node.all)) else And(all=children)
    if isinstance(node, Or):
        children = [validate_filter(child, spec) for child in node.any]
        return node if all(a is b for a, b in zip(children, node.any)) else Or(any=children)
    if isinstance(node, Not):
        operand = validate_filter(node.operand, spec)
        return node if operand is node.operand else Not(operand=operand)
    return _validate_condition(node, spec)


def _validate_condition(cond: Condition, spec: CollectionSpec) -> Condition:
    kind = spec.filterable.get(cond.key)
    if kind is None:
        raise FilterError(
            f"filter key {short_repr(cond.key)} is not filterable in collection {spec.name!r}; "
            f"declared keys: {sorted(spec.filterable)}"
        )
    is_list = isinstance(cond.value, list)
    if cond.op in LIST_OPS:
        if not is_list or not cond.value:
            raise FilterError(
                f"operator {cond.op.value!r} on {cond.key!r} needs a non-empty JSON list, got {short_repr(cond.value)}"
            )
        values = cond.value
    else:
        if is_list:
            raise FilterError(f"operator {cond.op.value!r} on {cond.key!r} needs a scalar, got list {short_repr(cond.value)}")
        values = [cond.value]
    if cond.op in RANGE_OPS and kind not in (ScalarType.INT, ScalarType.FLOAT, ScalarType.DATETIME):
        raise FilterError(f"range operator {cond.op.value!r} needs a numeric or datetime key; {cond.key!r} is {kind.value}")
    for value in values:  # type: ignore[union-attr]
        if value is not None and not fits_scalar_type(value, kind):
            raise FilterError(
                f"filter value {short_repr(value)} for key {short_repr(cond.key)} is not of type {kind.value}"
                + (" (ISO-8601 string, datetime or date)" if kind is ScalarType.DATETIME else "")
            )
    if kind is not ScalarType.DATETIME:
        return cond
    normalized = [None if v is None else parse_datetime(v) for v in values]  # type: ignore[union-attr]
    return Condition(key=cond.key, op=cond.op, value=normalized if is_list else normalized[0])


# ---- reference evaluator ----------------------------------------------------------------
def _comparable(actual: Any, value: Any, kind: Optional[ScalarType]) -> Optional[tuple[Any, Any]]:
    """Both sides as values Python may compare, or None when they are of different kinds."""
    if kind is ScalarType.DATETIME or isinstance(value, (datetime, date)):
        if parse_datetime(actual) is None or parse_datetime(value) is None:
            return None
        return epoch_millis(actual), epoch_millis(value)
    if isinstance(actual, bool) or isinstance(value, bool):
        return (actual, value) if isinstance(actual, bool) and isinstance(value, bool) else None
    if isinstance(actual, (int, float)) and isinstance(value, (int, float)):
        return actual, value
    if isinstance(actual, str) and isinstance(value, str):
        return actual, value
    return None


def _equal(actual: Any, value: Any, kind: Optional[ScalarType]) -> bool:
    if actual is None or value is None:
        return actual is None and value is None
    pair = _comparable(actual, value, kind)
    return pair is not None and pair[0] == pair[1]


def _ordered(op: FilterOp, actual: Any, value: Any, kind: Optional[ScalarType]) -> bool:
    if actual is None or value is None:
        return False
    pair = _comparable(actual, value, kind)
    if pair is None:
        return False
    a, b = pair
    if op is FilterOp.GT:
        return a > b
    if op is FilterOp.GTE:
        return a >= b
    if op is FilterOp.LT:
        return a < b
    return a <= b


def matches(node: Filter, metadata: dict[str, Any], spec: Optional[CollectionSpec] = None) -> bool:
    """Whether ``metadata`` satisfies the filter (the module docstring's semantics).

    A missing key reads as ``None``; ``spec`` (optional) tells which keys are DATETIME, so their
    ISO strings compare as instants (date/time filter values do so without it).
    """
    if isinstance(node, And):
        return all(matches(child, metadata, spec) for child in node.all)
    if isinstance(node, Or):
        return any(matches(child, metadata, spec) for child in node.any)
    if isinstance(node, Not):
        return not matches(node.operand, metadata, spec)
    actual = metadata.get(node.key)
    kind = spec.filterable.get(node.key) if spec is not None else None
    op, value = node.op, node.value
    if op is FilterOp.EQ:
        return _equal(actual, value, kind)
    if op is FilterOp.NE:
        return not _equal(actual, value, kind)
    if op is FilterOp.IN:
        return any(_equal(actual, v, kind) for v in value)  # type: ignore[union-attr]
    if op is FilterOp.NOT_IN:
        return not any(_equal(actual, v, kind) for v in value)  # type: ignore[union-attr]
    return _ordered(op, actual, value, kind)
