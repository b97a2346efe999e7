"""compile_filter: hand-written expected Milvus expressions (pure, no engine)."""

from __future__ import annotations

import pytest

from connectors.milvus.filters import compile_filter, ids_expression, quote_string
from schemas import And, CollectionSpec, Condition, FilterError, Not, Or, ScalarType
from schemas.filters import between, eq, is_in, ne, not_in

SPEC = CollectionSpec(
    name="c", dense_dim=4,
    filterable={"genre": ScalarType.STRING, "year": ScalarType.INT, "price": ScalarType.FLOAT, "flag": ScalarType.BOOL},
)


@pytest.mark.parametrize(
    "node, expected",
    [
        (eq("genre", "drama"), 'genre == "drama"'),
        (ne("year", 2000), "year != 2000"),
        (eq("flag", True), "flag == true"),
        (eq("flag", False), "flag == false"),
        (Condition(key="price", op=">", value=1), "price > 1.0"),
        (Condition(key="price", op="<=", value=2.5), "price <= 2.5"),
        (Condition(key="year", op=">=", value=-3), "year >= -3"),
        (Condition(key="year", op="<", value=2**63 - 1), f"year < {2**63 - 1}"),
        (is_in("year", [1, 2]), "year in [1, 2]"),
        (is_in("price", [1, 2.5]), "price in [1.0, 2.5]"),
        (not_in("genre", ["a", "b"]), 'genre not in ["a", "b"]'),
        (between("year", 1, 5), "(year >= 1 and year <= 5)"),
        (Or(any=[eq("genre", "a"), eq("year", 1)]), '(genre == "a" or year == 1)'),
        (And(all=[eq("genre", "a")]), 'genre == "a"'),
        (eq("genre", 'say "hi"'), r'genre == "say \"hi\""'),
        (eq("genre", "back\\slash"), r'genre == "back\\slash"'),
        (eq("genre", '\\"'), r'genre == "\\\""'),
        (eq("genre", 'a" or id != "'), r'genre == "a\" or id != \""'),
        (eq("genre", "it's"), "genre == \"it's\""),
        (eq("genre", "x\ty ü😀"), 'genre == "x\ty ü😀"'),
        (eq("price", 1e-07), "price == 1e-07"),
    ],
)
def test_compile(node, expected):
    assert compile_filter(node, SPEC) == expected


@pytest.mark.parametrize(
    "node, expected",
    [
        (Not(operand=eq("genre", "a")), 'genre != "a"'),
        (Not(operand=ne("year", 1)), "year == 1"),
        (Not(operand=is_in("year", [1])), "year not in [1]"),
        (Not(operand=not_in("year", [1])), "year in [1]"),
        (Not(operand=Condition(key="year", op=">", value=1)), "year <= 1"),
        (Not(operand=Condition(key="year", op=">=", value=1)), "year < 1"),
        (Not(operand=Condition(key="year", op="<", value=1)), "year >= 1"),
        (Not(operand=Condition(key="year", op="<=", value=1)), "year > 1"),
        (Not(operand=And(all=[eq("year", 1), eq("flag", True)])), "(year != 1 or flag != true)"),
        (Not(operand=Or(any=[eq("year", 1), Not(operand=eq("flag", True))])), "(year != 1 and flag == true)"),
        (Not(operand=Not(operand=eq("year", 1))), "year == 1"),
    ],
)
def test_not_is_pushed_down(node, expected):
    assert compile_filter(node, SPEC) == expected


@pytest.mark.parametrize(
    "node, message",
    [
        (eq("unknown", 1), "not filterable"),
        (eq("year", "1"), "not of type int"),
        (eq("year", 1.5), "not of type int"),
        (eq("flag", 1), "not of type bool"),
        (Condition(key="genre", op=">", value="a"), "numeric key"),
        (Condition(key="year", op="in", value=[]), "non-empty list"),
        (eq("genre", "line\nbreak"), "cannot hold"),
        (eq("genre", "cr\r"), "cannot hold"),
        (eq("price", float("nan")), "finite"),
        (eq("year", 2**63), "int64"),
    ],
)
def test_rejects(node, message):
    with pytest.raises(FilterError, match=message):
        compile_filter(node, SPEC)


def test_ids_expression_escapes():
    assert ids_expression(["a", 'b"c', "d\\e"]) == r'id in ["a", "b\"c", "d\\e"]'
    with pytest.raises(FilterError):
        ids_expression([])
    assert quote_string("") == '""'


@pytest.mark.parametrize(
    "node, expected",
    [
        (Or(any=[eq("year", 1), eq("year", 2), eq("year", 1)]), "year in [1, 2]"),
        (Or(any=[eq("genre", "a"), is_in("genre", ["b", "a"]), eq("year", 3)]), '(genre in ["a", "b"] or year == 3)'),
        (Not(operand=Or(any=[eq("year", 1), eq("year", 2)])), "year not in [1, 2]"),
        (And(all=[ne("year", 1), not_in("year", [2, 3])]), "year not in [1, 2, 3]"),
        (Not(operand=And(all=[ne("year", 1), ne("year", 2)])), "year in [1, 2]"),
        (And(all=[eq("year", 1), eq("year", 2)]), "(year == 1 and year == 2)"),  # not merged: and of ==
        (Or(any=[eq("price", 1), eq("price", 1.5)]), "price in [1.0, 1.5]"),
    ],
)
def test_same_key_equalities_merge_into_membership(node, expected):
    assert compile_filter(node, SPEC) == expected


def test_flat_or_of_500_equalities_is_one_in():
    expression = compile_filter(Or(any=[eq("year", v) for v in range(500)]), SPEC)
    assert expression.startswith("year in [0, 1, 2") and " or " not in expression
