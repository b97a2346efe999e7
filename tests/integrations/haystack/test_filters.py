"""``to_vecbridge_filter``: Haystack filter dicts -> vecbridge filter trees (pure)."""

from __future__ import annotations

import pytest

pytest.importorskip("haystack")

from haystack.errors import FilterError as HaystackFilterError  # noqa: E402

from vecbridge.integrations.haystack import FilterError, to_vecbridge_filter  # noqa: E402
from vecbridge.schemas import matches, parse_filter  # noqa: E402
from vecbridge.schemas.errors import FilterError as VecbridgeFilterError  # noqa: E402


def test_empty_filters_are_no_filter():
    assert to_vecbridge_filter(None) is None
    assert to_vecbridge_filter({}) is None


@pytest.mark.parametrize("op", ["==", "!=", ">", ">=", "<", "<=", "in", "not in"])
def test_comparison(op):
    value = [1, 2] if "in" in op else 3
    assert to_vecbridge_filter({"field": "meta.year", "operator": op, "value": value}) == {
        "key": "year",
        "op": op,
        "value": value,
    }


def test_values_pass_through_unchanged_for_vecbridge_to_judge():
    for value in (None, (10, 11), "1972-12-11T19:54:58", [None, 1]):
        assert to_vecbridge_filter({"field": "meta.k", "operator": "in", "value": value})["value"] == value


def test_dotted_meta_key_keeps_its_path():
    assert to_vecbridge_filter({"field": "meta.source.file", "operator": "==", "value": "a"})["key"] == "source.file"


def test_logic_nests():
    tree = to_vecbridge_filter(
        {
            "operator": "AND",
            "conditions": [
                {"field": "meta.a", "operator": "==", "value": 1},
                {
                    "operator": "OR",
                    "conditions": [
                        {"field": "meta.b", "operator": "in", "value": ["x"]},
                        {"operator": "NOT", "conditions": [{"field": "meta.c", "operator": ">", "value": 2}]},
                    ],
                },
            ],
        }
    )
    assert tree == {
        "all": [
            {"key": "a", "op": "==", "value": 1},
            {"any": [{"key": "b", "op": "in", "value": ["x"]}, {"not": {"key": "c", "op": ">", "value": 2}}]},
        ]
    }


def test_not_of_several_conditions_negates_their_and():
    """Haystack: NOT [a, b] == not (a and b) -- checked against vecbridge's reference evaluator."""
    tree = parse_filter(
        to_vecbridge_filter(
            {
                "operator": "NOT",
                "conditions": [
                    {"field": "meta.a", "operator": "==", "value": 1},
                    {"field": "meta.b", "operator": "==", "value": 2},
                ],
            }
        )
    )
    assert not matches(tree, {"a": 1, "b": 2})
    assert matches(tree, {"a": 1, "b": 3})
    assert matches(tree, {"a": 0, "b": 2})


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"conditions": [{"field": "meta.a", "operator": "==", "value": 1}]}, "no 'operator'"),
        ({"operator": "AND"}, "no 'conditions'"),
        ({"operator": "AND", "conditions": [{"operator": "==", "value": 1}]}, "filters.conditions[0] has no 'field'"),
        ({"operator": "AND", "conditions": [{"field": "meta.a", "value": 1}]}, "no 'operator'"),
        ({"operator": "AND", "conditions": [{"field": "meta.a", "operator": "=="}]}, "no 'value'"),
        (
            {"operator": "XOR", "conditions": [{"field": "meta.a", "operator": "==", "value": 1}]},
            "unknown logical operator",
        ),
        ({"operator": "AND", "conditions": []}, "non-empty list"),
        ({"field": "meta.a", "operator": "~", "value": 1}, "unknown comparison"),
        ({"field": "content", "operator": "==", "value": "x"}, "metadata only"),
        ({"field": "meta.", "operator": "==", "value": "x"}, "metadata only"),
        ({"operator": "OR", "conditions": ["meta.a == 1"]}, "must be a dict"),
    ],
)
def test_malformed_filters_raise_both_filter_errors(bad, fragment):
    with pytest.raises(FilterError) as info:
        to_vecbridge_filter(bad)
    assert fragment in str(info.value)
    assert isinstance(info.value, HaystackFilterError) and isinstance(info.value, VecbridgeFilterError)
