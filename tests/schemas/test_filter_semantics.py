"""The filter semantics (docs/filters.md): a missing key reads as None, checked against Haystack's own
reference evaluator (``haystack.utils.filters.document_matches_filter``) on the documents of
Haystack's document-store test suite and generated filters, plus the error cases of that suite."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from vecbridge.schemas import (
    And,
    CollectionSpec,
    Condition,
    Document,
    Filter,
    FilterError,
    Not,
    Or,
    matches,
    parse_filter,
    validate_filter,
)
from vecbridge.schemas.dates import epoch_millis, iso_millis, parse_datetime
from vecbridge.schemas.filters import eq, is_in, ne, not_in

SPEC = CollectionSpec(
    name="h",
    dense_dim=4,
    filterable={
        "number": "int",
        "name": "string",
        "page": "string",
        "chapter": "string",
        "date": "datetime",
        "no_embedding": "bool",
    },
)
POOLS: dict[str, list[Any]] = {
    "number": [2, -2, -10, 0, 100, None],
    "name": ["name_0", "name_1", "zeros_doc", "", None],
    "page": ["100", "123", "90", None],
    "chapter": ["intro", "abstract", "conclusion", None],
    "date": ["1969-07-21T20:17:40", "1972-12-11T19:54:58", "1989-11-09T17:53:00", "1970-01-01T00:00:00", None],
    "no_embedding": [True, False, None],
}
RANGED = {"number", "date"}


def to_vecbridge(haystack: dict[str, Any]) -> Filter:
    """Haystack's filter syntax as a vecbridge tree (what an adapter does; NOT = not(all))."""
    if "field" in haystack:
        return Condition(key=haystack["field"].removeprefix("meta."), op=haystack["operator"], value=haystack["value"])
    children = [to_vecbridge(c) for c in haystack["conditions"]]
    if haystack["operator"] == "AND":
        return And(all=children)
    if haystack["operator"] == "OR":
        return Or(any=children)
    return Not(operand=And(all=children))


def random_haystack_filter(rng: np.random.Generator, depth: int = 0) -> dict[str, Any]:
    if depth < 3 and rng.random() < 0.35:
        op = str(rng.choice(["AND", "OR", "NOT"]))
        return {
            "operator": op,
            "conditions": [random_haystack_filter(rng, depth + 1) for _ in range(int(rng.integers(1, 4)))],
        }
    key = str(rng.choice(list(POOLS)))
    pool = POOLS[key]
    op = str(rng.choice(["==", "!=", "in", "not in"] + ([">", ">=", "<", "<="] if key in RANGED else [])))
    if op in ("in", "not in"):
        value: Any = [pool[j] for j in rng.choice(len(pool), size=int(rng.integers(1, 4)), replace=False)]
    else:
        value = pool[int(rng.integers(len(pool)))]
    return {"field": f"meta.{key}", "operator": op, "value": value}


@pytest.fixture(scope="module")
def haystack_docs():
    pytest.importorskip("haystack")
    from haystack.testing.document_store import create_filterable_docs

    return create_filterable_docs()


def test_matches_agrees_with_haystack_on_generated_filters(haystack_docs):
    from haystack.utils.filters import document_matches_filter

    rng = np.random.default_rng(7)
    for _ in range(400):
        haystack = random_haystack_filter(rng)
        node = validate_filter(to_vecbridge(haystack), SPEC)
        for doc in haystack_docs:
            assert matches(node, doc.meta, SPEC) == document_matches_filter(haystack, doc), (haystack, doc.meta)


@pytest.mark.parametrize("value", ["1", [1]])
@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_ranges_with_strings_or_lists_are_errors(op, value):
    with pytest.raises(FilterError, match="number"):
        validate_filter(parse_filter({"key": "number", "op": op, "value": value}), SPEC)


@pytest.mark.parametrize("op", ["in", "not in"])
@pytest.mark.parametrize("value", [9, (10, 11), {10, 11}, frozenset({1})])
def test_membership_needs_a_json_list(op, value):
    with pytest.raises(FilterError, match="number"):
        validate_filter(parse_filter({"key": "number", "op": op, "value": value}), SPEC)
    if not isinstance(value, int):
        with pytest.raises(FilterError, match=r"needs a JSON list, got (tuple|set|frozenset)"):
            Condition(key="number", op=op, value=value)


def test_missing_key_reads_as_none():
    missing, null, present = {}, {"number": None}, {"number": 100}
    assert [matches(eq("number", None), m) for m in (missing, null, present)] == [True, True, False]
    assert [matches(ne("number", None), m) for m in (missing, null, present)] == [False, False, True]
    assert [matches(ne("number", 100), m) for m in (missing, null, present)] == [True, True, False]
    assert [matches(is_in("number", [None, 100]), m) for m in (missing, null, present)] == [True, True, True]
    assert [matches(not_in("number", [9, 10]), m) for m in (missing, null, present)] == [True, True, True]
    assert [matches(not_in("number", [None]), m) for m in (missing, null, present)] == [False, False, True]
    greater = Condition(key="number", op=">", value=0)
    assert [matches(greater, m) for m in (missing, null, present)] == [False, False, True]
    assert [matches(Not(operand=greater), m) for m in (missing, null, present)] == [True, True, False]
    assert not matches(Condition(key="number", op="<", value=None), present)  # a None value: no match
    assert not matches(eq("flag", 1), {"flag": True}) and matches(ne("flag", 1), {"flag": True})


def test_datetimes_compare_as_instants_at_millisecond_resolution():
    spec = CollectionSpec(name="d", dense_dim=2, filterable={"when": "datetime"})
    node = validate_filter(eq("when", "2020-01-01T01:00:00+01:00"), spec)
    assert node.value == datetime(2020, 1, 1, tzinfo=timezone.utc)
    for same in [
        "2020-01-01T00:00:00Z",
        "2020-01-01",
        "2020-01-01T00:00:00.000999",
        date(2020, 1, 1),
        datetime(2019, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5))),
    ]:
        assert matches(node, {"when": same}, spec), same
    assert not matches(node, {"when": "2020-01-01T00:00:00.001"}, spec)
    assert (
        epoch_millis("1969-12-31T23:59:59.9995") == -1
        and iso_millis("1969-12-31T23:59:59.9995") == "1969-12-31T23:59:59.999Z"
    )
    for bad in ["2020-13-01", "2020-02-30", "yesterday", "2020-01-01T25:00", "2020-01-01 10:00", 1577836800, True]:
        assert parse_datetime(bad) is None, bad
        with pytest.raises(FilterError, match="when"):
            validate_filter(Condition(key="when", op=">", value=bad), spec)


def test_document_metadata_is_any_json_and_datetimes_become_iso_strings():
    metadata = {"source.file": "a.txt", "n": {"x": [1, {"y": None}], "": 2}, "list": [[], {}]}
    doc = Document(id="1", text="", metadata={**metadata, "at": datetime(2020, 1, 2, 3, 4, 5), "day": date(2020, 1, 2)})
    assert doc.metadata == {**metadata, "at": "2020-01-02T03:04:05", "day": "2020-01-02"}
    assert Document.model_validate_json(doc.model_dump_json()) == doc
