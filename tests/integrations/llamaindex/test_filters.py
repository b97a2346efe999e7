"""LlamaIndex MetadataFilters -> vecbridge filter trees (pure), checked against LlamaIndex's own evaluator."""

import itertools

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from vecbridge import FilterError, matches, parse_filter
from vecbridge.integrations.llamaindex import metadata_filters_to_filter


def f(key, value, op=FilterOperator.EQ):
    return MetadataFilter(key=key, value=value, operator=op)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (FilterOperator.EQ, "en", "=="),
        (FilterOperator.NE, "en", "!="),
        (FilterOperator.GT, 3, ">"),
        (FilterOperator.GTE, 3, ">="),
        (FilterOperator.LT, 2.5, "<"),
        (FilterOperator.LTE, 2.5, "<="),
        (FilterOperator.IN, ["a", "b"], "in"),
        (FilterOperator.NIN, [1, 2], "not in"),
    ],
)
def test_each_operator_maps_to_its_vecbridge_operator(op, value, expected):
    tree = metadata_filters_to_filter(MetadataFilters(filters=[f("k", value, op)]))
    assert tree == parse_filter({"key": "k", "op": expected, "value": value})


def test_conditions_and_nesting():
    filters = MetadataFilters(
        filters=[
            f("lang", "en"),
            MetadataFilters(
                filters=[f("year", 2020, FilterOperator.GTE), f("tag", ["x"], FilterOperator.IN)],
                condition=FilterCondition.OR,
            ),
            MetadataFilters(filters=[f("draft", 1)], condition=FilterCondition.NOT),
        ],
        condition=FilterCondition.AND,
    )
    assert metadata_filters_to_filter(filters) == parse_filter(
        {
            "all": [
                {"key": "lang", "op": "==", "value": "en"},
                {"any": [{"key": "year", "op": ">=", "value": 2020}, {"key": "tag", "op": "in", "value": ["x"]}]},
                {"not": {"key": "draft", "op": "==", "value": 1}},
            ]
        }
    )


def test_not_means_none_of_the_filters_match():
    filters = MetadataFilters(filters=[f("a", 1), f("b", 2)], condition=FilterCondition.NOT)
    assert metadata_filters_to_filter(filters) == parse_filter(
        {"not": {"any": [{"key": "a", "op": "==", "value": 1}, {"key": "b", "op": "==", "value": 2}]}}
    )


def test_empty_filters_constrain_nothing():
    assert metadata_filters_to_filter(None) is None
    assert metadata_filters_to_filter(MetadataFilters(filters=[])) is None
    nested_empty = MetadataFilters(filters=[f("a", 1), MetadataFilters(filters=[], condition=FilterCondition.OR)])
    assert metadata_filters_to_filter(nested_empty) == parse_filter({"key": "a", "op": "==", "value": 1})


@pytest.mark.parametrize(
    "op",
    [
        FilterOperator.CONTAINS,
        FilterOperator.TEXT_MATCH,
        FilterOperator.ANY,
        FilterOperator.ALL,
        FilterOperator.IS_EMPTY,
    ],
)
def test_unsupported_operators_raise_filter_error_naming_path_and_operator(op):
    value = ["x"] if op in (FilterOperator.ANY, FilterOperator.ALL) else "x"
    filters = MetadataFilters(filters=[f("a", 1), MetadataFilters(filters=[f("tags", value, op)])])
    with pytest.raises(
        FilterError, match=rf"filters\.filters\[1\]\.filters\[0\]: operator '{op.value}' \(key 'tags'\)"
    ):
        metadata_filters_to_filter(filters)


def test_in_needs_a_list():
    with pytest.raises(FilterError, match="operator 'in' needs a list value, got 'x'"):
        metadata_filters_to_filter(MetadataFilters(filters=[f("a", "x", FilterOperator.IN)]))


# ---- agreement with LlamaIndex's own evaluator (vector_stores.utils.build_metadata_filter_fn) ----
VALUES = [1, 2, 3]
LEAVES = [
    f("n", 2),
    f("n", 2, FilterOperator.NE),
    f("n", 2, FilterOperator.GT),
    f("n", 2, FilterOperator.GTE),
    f("n", 2, FilterOperator.LT),
    f("n", 2, FilterOperator.LTE),
    f("n", [1, 3], FilterOperator.IN),
    f("n", [1, 3], FilterOperator.NIN),
    f("s", "b"),
    f("s", ["a", "c"], FilterOperator.NIN),
]
GROUPS = [
    MetadataFilters(filters=[a, b], condition=c)
    for (a, b), c in itertools.product(itertools.combinations(LEAVES, 2), list(FilterCondition))
] + [MetadataFilters(filters=[leaf]) for leaf in LEAVES]


def agree(metadata_rows):
    disagreements = []
    for filters in GROUPS:
        theirs = build_metadata_filter_fn(lambda i: metadata_rows[i], filters)
        ours = metadata_filters_to_filter(filters)
        for i, meta in enumerate(metadata_rows):
            if theirs(i) != matches(ours, meta):
                disagreements.append((filters, meta))
    return disagreements


def test_agrees_with_llamaindex_when_keys_are_present():
    rows = [{"n": n, "s": s} for n in VALUES for s in "abc"]
    assert agree(rows) == []


def test_agrees_with_llamaindex_when_keys_are_missing():
    rows = [{}, {"n": 2}, {"s": "b"}]
    assert agree(rows) == []


def test_none_follows_vecbridge_rule_not_llamaindex_evaluator():
    """``== None`` matches a missing or null key (vecbridge's one rule, as Haystack's); LlamaIndex's
    in-memory evaluator would match nothing."""
    tree = metadata_filters_to_filter(MetadataFilters(filters=[f("a", None)]))
    assert [matches(tree, m) for m in ({}, {"a": None}, {"a": 1})] == [True, True, False]
