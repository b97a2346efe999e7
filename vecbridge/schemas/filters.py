"""Backend-neutral metadata filters: a typed tree, a validator against a spec, and a reference evaluator.

JSON form (what ``TypeAdapter(Filter)`` accepts)::

    {"key": "year", "op": ">=", "value": 2003}
    {"all": [F1, F2]}   {"any": [F1, F2]}   {"not": F}

Semantics (Haystack's; docs/filters.md): a missing key reads as null (``None``) and a condition is
``metadata.get(key) <op> value``: ``== None`` matches missing or null, ``!= v`` and ``not in [...]``
match documents lacking the key, ranges never match a missing/null key (nor a ``None`` value), and
``not`` is plain boolean negation. ``in`` / ``not in`` take a JSON list (a tuple or set is a
``FilterError``).

Keys: a key declared in ``CollectionSpec.filterable`` is the fast, typed path; any other key is read
from the stored JSON metadata (``PathCondition`` after ``validate_filter``), and a dotted key
``"a.b"`` is a path into nested objects (``metadata["a"]["b"]``; a missing step, or a step into
anything but an object, reads as null). Values of different kinds never compare: ``"1"`` is not
``1``, ``True`` is not ``1``, while ``1 == 1.0``; a range compares numbers only. Undeclared keys take
no date/time values (declare the key ``datetime`` to compare instants).

Connectors compile a validated tree with pure functions; ``matches`` is the oracle they must agree with.
Trees nest at most ``MAX_FILTER_DEPTH`` (32) levels; errors name the node's path (``filter.all[1].op``)
and quote values cut to a few dozen characters.
"""

from __future__ import annotations

import math
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


class PathCondition(Condition):
    """A condition on a key that is not declared filterable (or a dotted path): what
    ``validate_filter`` turns such a ``Condition`` into, so compilers read it from the stored JSON
    metadata instead of a typed field."""


class And(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list[Filter] = Field(min_length=1)


class Or(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    any: list[Filter] = Field(min_length=1)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    operand: Filter = Field(alias="not")


Filter = Union[Condition, And, Or, Not]

MAX_PATH_DEPTH = 8
"""Most segments in a dotted metadata path (``"a.b.c"`` has 3); the stored metadata index covers these."""
JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**63 - 1


def key_path(key: str) -> tuple[str, ...]:
    """The segments of a dotted key (``"a.b"`` -> ``("a", "b")``); ``FilterError`` for an empty
    segment or more than ``MAX_PATH_DEPTH`` of them."""
    segments = tuple(key.split("."))
    if not all(segments):
        raise FilterError(f"filter key {short_repr(key)} has an empty path segment")
    if len(segments) > MAX_PATH_DEPTH:
        raise FilterError(f"filter key {short_repr(key)} has more than {MAX_PATH_DEPTH} path segments")
    return segments


def resolve(metadata: dict[str, Any], key: str) -> Any:
    """The value at a (dotted) key: nested objects are walked; a missing step, or a step into
    anything but an object, gives ``None``."""
    value: Any = metadata
    for segment in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    return value


def metadata_paths(metadata: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every ``(dotted path, value)`` a filter can address: non-null values reached through objects
    only, at most ``MAX_PATH_DEPTH`` segments, segments non-empty and without ``"."``. Backends index
    these (their JSON type, for Elasticsearch their scalar value) to filter on undeclared keys."""
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, dict[str, Any], int]] = [("", metadata, 1)]
    while stack:
        prefix, node, depth = stack.pop()
        for segment, value in node.items():
            if value is None or not segment or "." in segment:
                continue
            path = prefix + segment
            out.append((path, value))
            if isinstance(value, dict) and depth < MAX_PATH_DEPTH:
                stack.append((path + ".", value, depth + 1))
    return out


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
            raise FilterError(
                f"filter is nested deeper than {MAX_FILTER_DEPTH} levels; flatten it (all/any take lists)"
            )
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
        return node if all(a is b for a, b in zip(children, node.all, strict=True)) else And(all=children)
    if isinstance(node, Or):
        children = [validate_filter(child, spec) for child in node.any]
        return node if all(a is b for a, b in zip(children, node.any, strict=True)) else Or(any=children)
    if isinstance(node, Not):
        operand = validate_filter(node.operand, spec)
        return node if operand is node.operand else Not(operand=operand)
    return _validate_condition(node, spec)


def _validate_condition(cond: Condition, spec: CollectionSpec) -> Condition:
    kind = spec.filterable.get(cond.key)
    if kind is None:
        return _validate_path_condition(cond, spec)
    is_list = isinstance(cond.value, list)
    values = _operands(cond)
    if cond.op in RANGE_OPS and kind not in (ScalarType.INT, ScalarType.FLOAT, ScalarType.DATETIME):
        raise FilterError(
            f"range operator {cond.op.value!r} needs a numeric or datetime key; {cond.key!r} is {kind.value}"
        )
    for value in values:
        if value is not None and not fits_scalar_type(value, kind):
            raise FilterError(
                f"filter value {short_repr(value)} for key {short_repr(cond.key)} is not of type {kind.value}"
                + (" (ISO-8601 string, datetime or date)" if kind is ScalarType.DATETIME else "")
            )
    if kind is not ScalarType.DATETIME:
        return cond
    normalized: list[Scalar] = [None if v is None else parse_datetime(v) for v in values]
    return Condition(key=cond.key, op=cond.op, value=normalized if is_list else normalized[0])


def _validate_path_condition(cond: Condition, spec: CollectionSpec) -> PathCondition:
    """An undeclared key or dotted path: scalars of any JSON kind, ranges on numbers only."""
    segments = key_path(cond.key)
    if len(segments) > 1 and segments[0] in spec.filterable:
        raise FilterError(
            f"filter key {short_repr(cond.key)}: {segments[0]!r} is declared filterable "
            f"({spec.filterable[segments[0]].value}), a scalar with no nested keys"
        )
    values = _operands(cond)
    for value in values:
        if isinstance(value, (datetime, date)):
            raise FilterError(
                f"filter value {short_repr(value)} for key {short_repr(cond.key)}: date/time values need the "
                f"key declared filterable as datetime in collection {spec.name!r}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise FilterError(f"filter value {value!r} for key {short_repr(cond.key)} must be finite")
        if isinstance(value, int) and not isinstance(value, bool) and not JSON_INT_MIN <= value <= JSON_INT_MAX:
            raise FilterError(
                f"filter value {short_repr(value)} for key {short_repr(cond.key)} is outside the signed 64-bit range"
            )
        if (
            cond.op in RANGE_OPS
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, (int, float)))
        ):
            raise FilterError(
                f"range operator {cond.op.value!r} on undeclared key {short_repr(cond.key)} needs a number, got "
                f"{short_repr(value)} (declare the key filterable as datetime to compare dates)"
            )
    return PathCondition(key=cond.key, op=cond.op, value=cond.value)


def _operands(cond: Condition) -> list[Any]:
    """The scalar operands of a condition: a non-empty list for ``in`` / ``not in``, else one scalar."""
    is_list = isinstance(cond.value, list)
    if cond.op in LIST_OPS:
        if not is_list or not cond.value:
            raise FilterError(
                f"operator {cond.op.value!r} on {cond.key!r} needs a non-empty JSON list, got {short_repr(cond.value)}"
            )
        return list(cond.value)  # type: ignore[arg-type]  # a list here: checked just above
    if is_list:
        raise FilterError(
            f"operator {cond.op.value!r} on {cond.key!r} needs a scalar, got list {short_repr(cond.value)}"
        )
    return [cond.value]


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

    A missing key reads as ``None`` and a dotted key is a path into nested objects (``resolve``);
    ``spec`` (optional) tells which keys are DATETIME, so their ISO strings compare as instants
    (date/time filter values do so without it).
    """
    if isinstance(node, And):
        return all(matches(child, metadata, spec) for child in node.all)
    if isinstance(node, Or):
        return any(matches(child, metadata, spec) for child in node.any)
    if isinstance(node, Not):
        return not matches(node.operand, metadata, spec)
    actual = resolve(metadata, node.key)
    kind = spec.filterable.get(node.key) if spec is not None else None
    op, value = node.op, node.value
    if op is FilterOp.EQ:
        return _equal(actual, value, kind)
    if op is FilterOp.NE:
        return not _equal(actual, value, kind)
    if op is FilterOp.IN:
        return any(_equal(actual, v, kind) for v in value)  # type: ignore[union-attr]  # IN/NOT_IN values are lists (validated)
    if op is FilterOp.NOT_IN:
        return not any(_equal(actual, v, kind) for v in value)  # type: ignore[union-attr]  # IN/NOT_IN values are lists (validated)
    return _ordered(op, actual, value, kind)
