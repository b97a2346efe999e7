"""compile_filter: hand-written expected Milvus expressions (pure, no engine).

Missing keys read as null (schemas.filters): a document lacking ``k`` stores the placeholder (0, 0.0,
"", false) and ``k__present == false``, so a condition is guarded by the presence flag exactly when
the placeholder would decide it wrongly (``year >= -3`` needs the guard, ``year > 1`` does not)."""

from __future__ import annotations

import pytest

from vecbridge.connectors.milvus.filters import compile_filter, ids_expression, quote_string
from vecbridge.schemas import And, CollectionSpec, Condition, FilterError, Not, Or, ScalarType
from vecbridge.schemas.filters import between, eq, is_in, ne, not_in

SPEC = CollectionSpec(
    name="c",
    dense_dim=4,
    filterable={
        "genre": ScalarType.STRING,
        "year": ScalarType.INT,
        "price": ScalarType.FLOAT,
        "flag": ScalarType.BOOL,
        "when": ScalarType.DATETIME,
    },
)


@pytest.mark.parametrize(
    "node, expected",
    [
        (eq("genre", "drama"), 'genre == "drama"'),
        (ne("year", 2000), "year != 2000"),
        (eq("flag", True), "flag == true"),
        (eq("flag", False), "(flag__present == true and flag == false)"),  # placeholder false: guarded
        (Condition(key="price", op=">", value=1), "price > 1.0"),
        (Condition(key="price", op="<=", value=2.5), "(price__present == true and price <= 2.5)"),
        (Condition(key="year", op=">=", value=-3), "(year__present == true and year >= -3)"),
        (Condition(key="year", op="<", value=2**63 - 1), f"(year__present == true and year < {2**63 - 1})"),
        (is_in("year", [1, 2]), "year in [1, 2]"),
        (is_in("price", [1, 2.5]), "price in [1.0, 2.5]"),
        (not_in("genre", ["a", "b"]), 'genre not in ["a", "b"]'),
        (between("year", 1, 5), "(year >= 1 and (year__present == true and year <= 5))"),
        (Or(any=[eq("genre", "a"), eq("year", 1)]), '(genre == "a" or year == 1)'),
        (And(all=[eq("genre", "a")]), 'genre == "a"'),
        (eq("genre", 'say "hi"'), r'genre == "say \"hi\""'),
        (eq("genre", "back\\slash"), r'genre == "back\\slash"'),
        (eq("genre", '\\"'), r'genre == "\\\""'),
        (eq("genre", 'a" or id != "'), r'genre == "a\" or id != \""'),
        (eq("genre", "it's"), 'genre == "it\'s"'),
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
        (Not(operand=Condition(key="year", op="<", value=1)), "(year__present == false or year >= 1)"),
        (Not(operand=Condition(key="year", op="<=", value=1)), "(year__present == false or year > 1)"),
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
        (Condition(key="unknown", op=">", value="a"), "undeclared key 'unknown' needs a number"),
        (eq("year", "1"), "not of type int"),
        (eq("year", 1.5), "not of type int"),
        (eq("flag", 1), "not of type bool"),
        (Condition(key="genre", op=">", value="a"), "numeric or datetime key"),
        (Condition(key="year", op="in", value=[]), "non-empty JSON list"),
        (Condition(key="year", op=">", value=[1]), "needs a scalar"),
        (Condition(key="year", op=">", value="1"), "not of type int"),
        (Condition(key="when", op=">", value="yesterday"), "not of type datetime"),
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
    expression = compile_filter(Or(any=[eq("year", v) for v in range(1, 501)]), SPEC)
    assert expression.startswith("year in [1, 2, 3") and " or " not in expression
    guarded = compile_filter(Or(any=[eq("year", v) for v in range(500)]), SPEC)  # 0 is the placeholder
    assert guarded.startswith("(year__present == true and year in [0, 1, 2") and " or " not in guarded


@pytest.mark.parametrize(
    "node, expected",
    [
        (eq("year", None), "year__present == false"),
        (ne("year", None), "year__present == true"),
        (eq("year", 0), "(year__present == true and year == 0)"),
        (ne("year", 0), "(year__present == false or year != 0)"),
        (ne("genre", ""), '(genre__present == false or genre != "")'),
        (ne("year", 5), "year != 5"),  # the placeholder 0 != 5: a document lacking year matches
        (is_in("year", [None, 3]), "(year__present == false or year in [3])"),
        (is_in("year", [None, 0]), "year in [0]"),
        (is_in("year", [None]), "year__present == false"),
        (not_in("year", [None, 3]), "(year__present == true and year not in [3])"),
        (not_in("year", [None]), "year__present == true"),
        (Condition(key="year", op=">", value=None), 'id == ""'),
        (Not(operand=Condition(key="year", op=">", value=None)), 'id != ""'),
        (Not(operand=eq("year", None)), "year__present == true"),
        (Or(any=[eq("year", None), eq("year", 2)]), "(year__present == false or year in [2])"),
        (And(all=[ne("year", None), ne("year", 2)]), "(year__present == true and year not in [2])"),
        (Condition(key="when", op=">", value="1970-01-01T00:00:01Z"), "when > 1000"),
        (Condition(key="when", op="<", value="1969-12-31T23:59:59.9995"), "when < -1"),  # floored to ms
        (Condition(key="when", op="<=", value="1970-01-01T00:00:01"), "(when__present == true and when <= 1000)"),
        (eq("when", "1970-01-01T01:00:00+01:00"), "(when__present == true and when == 0)"),
    ],
)
def test_missing_keys_and_none(node, expected):
    assert compile_filter(node, SPEC) == expected


def test_a_filterable_key_may_not_take_another_keys_presence_field_name():
    from vecbridge.connectors.milvus.schema import build_schema
    from vecbridge.schemas import ConfigurationError

    spec = CollectionSpec(name="c", dense_dim=2, filterable={"a": ScalarType.INT, "a__present": ScalarType.BOOL})
    with pytest.raises(ConfigurationError, match=r"\['a__present'\] collide"):
        build_schema(spec)
    names = [f.name for f in build_schema(SPEC).fields]
    assert [n for n in names if n.endswith("__present")] == [k + "__present" for k in SPEC.filterable]
